import { fairHeldScoreFloor, type ConcurrencyPoolUsage } from '@platform/queue';
import { getQueueStats, queuePrefix, type QueueDepthThresholds, type QueueStats } from '@platform/ops';
import type { ProviderHealth } from '@platform/notifications';
import { checkRedisServer, type RedisCheckReport, type RedisClient } from '@platform/redis';

/** Jobs finished per window, from the scores (finish times) of BullMQ's completed and failed sets. */
export interface QueueThroughput {
  completedLastMinute: number;
  completedLastHour: number;
  failedLastHour: number;
  /** Jobs held by the fair scheduler that BullMQ does not count yet (0 for queues without fair scheduling). */
  heldByFairScheduler: number;
}

/** One queue on the overview page. */
export interface QueueOverview extends QueueStats {
  throughput: QueueThroughput;
  /** The whole queue is paused (BullMQ `queue.pause()`): workers take none of its jobs. */
  paused: boolean;
}

/** Everything the overview page shows. */
export interface Overview {
  at: number;
  queues: QueueOverview[];
  /** The doctor's checks; `null` when they could not be run. */
  redis: RedisCheckReport | null;
  /** Why the checks could not be run, when they could not. */
  redisError?: string;
  /** Notification providers' circuit breakers. */
  providers: ProviderHealth[];
  /** Usage of the concurrency pools given in the options (none: not shown). */
  pools?: ConcurrencyPoolUsage[];
}

/** Throughput of one queue: ZCOUNTs over the finish times, exact (bounded only by the retention of finished jobs). */
export async function readThroughput(redis: RedisClient, prefix: string, queue: string, now: number): Promise<QueueThroughput & { paused: boolean }> {
  const base = `${queuePrefix(redis, prefix, queue)}:${queue}:`;
  const replies = (await redis
    .multi()
    .zcount(`${base}completed`, now - 60_000, '+inf')
    .zcount(`${base}completed`, now - 3_600_000, '+inf')
    .zcount(`${base}failed`, now - 3_600_000, '+inf')
    .zcount(`${base}delayed`, fairHeldScoreFloor(now), '+inf')
    .hexists(`${base}meta`, 'paused')
    .exec()) ?? [];
  const [minute, hour, failed, held, paused] = replies.map(([error, value]) => {
    if (error) throw error;
    return Number(value);
  });
  return {
    completedLastMinute: minute!,
    completedLastHour: hour!,
    failedLastHour: failed!,
    // A fair queue's pending jobs are held in BullMQ's delayed set (0 on a plain queue).
    heldByFairScheduler: held!,
    paused: paused === 1,
  };
}

/** Reads every queue's counts, oldest waiting age, depth status and throughput. */
export async function readQueues(
  redis: RedisClient,
  options: { prefix: string; queues: readonly string[]; thresholds: Partial<QueueDepthThresholds>; sampleSize: number; now: number },
): Promise<QueueOverview[]> {
  const stats = await getQueueStats(redis, {
    prefix: options.prefix,
    queues: options.queues,
    thresholds: options.thresholds,
    tenantSampleSize: options.sampleSize,
    topTenants: 5,
    now: () => options.now,
  });
  const result: QueueOverview[] = [];
  for (const queue of stats) {
    const { paused, ...throughput } = await readThroughput(redis, options.prefix, queue.name, options.now);
    result.push({ ...queue, throughput, paused });
  }
  return result;
}

/** The doctor's checks of the Redis server (memory %, evictions, policy, persistence, RTT, ...). */
export async function readRedisHealth(redis: RedisClient, rttSamples: number): Promise<{ report: RedisCheckReport | null; error?: string }> {
  try {
    return { report: await checkRedisServer(redis, { rttSamples }) };
  } catch (error) {
    return { report: null, error: error instanceof Error ? error.message : String(error) };
  }
}
