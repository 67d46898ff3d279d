import {
  FairnessRequiredError,
  jobStats,
  listTenantControls,
  type JobStatsSlot,
  type TenantJobStats,
  type TenantOverrideState,
  type TenantPauseState,
} from '@platform/queue';
import { Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { quantileSeconds, sumSlots } from './job-stats-sum';
import { defaultPrefix, queuePrefix } from './prefix';
import { DEFAULT_TENANT_SAMPLE_SIZE, listQueues, sampleWaitingJobs, tenantsOfJobs } from './stats';

/** Options of {@link getTenantStats}. */
export interface TenantStatsOptions {
  /** BullMQ key prefix. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'` */
  prefix?: string;
  /** Only these queues. @defaultValue every queue under `prefix` (platform and plain BullMQ) */
  queues?: readonly string[];
  /** Only this tenant. @defaultValue every tenant seen */
  tenantId?: string;
  /** Waiting jobs read per queue to count each tenant's backlog in BullMQ. @defaultValue `1000` */
  tenantSampleSize?: number;
  /** Active jobs read per queue to count each tenant's active jobs. @defaultValue `1000` */
  activeSampleSize?: number;
  /** How far back "recent" reaches (wait p95, failures...), rounded out to whole 5-minute slots. @defaultValue `3600000` (1 h) */
  windowMs?: number;
  /** Clock (ms since the epoch). @defaultValue `Date.now()` */
  now?: number;
}

/** One tenant on one queue, as operators read it. */
export interface TenantQueueStats {
  queue: string;
  tenantId: string;
  /**
   * Jobs waiting to run: the tenant's jobs in BullMQ's wait/prioritized lists (within the sample)
   * plus those still pending in a fair queue's backlog (exact).
   */
  backlog: number;
  /** False when the queue has more waiting jobs than the sample read: `backlog` may be low. */
  backlogExact: boolean;
  /** Jobs running now (within the sample of active jobs). */
  active: number;
  /** The queue is paused (BullMQ `queue.pause()`), so none of the tenant's jobs start. */
  queuePaused: boolean;
  /** The tenant's live pause on this (fair) queue (`pauseTenant`), or `null`. */
  tenantPause: TenantPauseState | null;
  /** The tenant's live limit override on this (fair) queue (`setTenantLimits`), or `null`. */
  override: TenantOverrideState | null;
  /** 95th percentile of the wait (enqueue to first start) within the window, seconds; `null` without jobs. */
  waitP95Seconds: number | null;
  /** Within the window, recorded by producers and workers (see `jobStats` of `@platform/queue`). */
  recent: { enqueued: number; completed: number; failed: number; failedAttempts: number; deferred: Record<string, number> };
}

/** What {@link getTenantStats} returns. */
export interface TenantStatsReport {
  /** The queues read. */
  queues: string[];
  /** Window of `recent`, ms (whole slots: at least `windowMs`). */
  windowMs: number;
  /** One row per queue and tenant with a backlog, active jobs, recent events, or a live pause or override. */
  tenants: TenantQueueStats[];
}

/**
 * Per tenant and queue: backlog, active jobs, p95 wait and recent failures, read from Redis (the
 * counters and histograms the producers and `createWorker` record, and the queues themselves), so
 * any process sees the same numbers. Bounded work per queue: one sample of waiting and of active
 * jobs, one ZCARD per tenant pending in a fair backlog, one HGETALL per 5-minute slot.
 */
export async function getTenantStats(redis: RedisClient, options: TenantStatsOptions = {}): Promise<TenantStatsReport> {
  const prefix = options.prefix ?? defaultPrefix();
  const now = options.now ?? Date.now();
  const windowMs = options.windowMs ?? 3_600_000;
  const sinceMs = now - windowMs;
  const firstSlot = Math.floor(sinceMs / jobStats.slotMs);
  const names = options.queues ? [...options.queues] : (await listQueues(redis, { prefix })).map((q) => q.name);
  const rows: TenantQueueStats[] = [];
  for (const name of names) rows.push(...(await queueTenants(redis, name, prefix, now, sinceMs, options)));
  return { queues: names, windowMs: now - firstSlot * jobStats.slotMs, tenants: rows };
}

/** What one queue holds per tenant, read once and shared by the tenant views and the series. */
export interface QueueTenantData {
  queue: string;
  /** The queue is paused. */
  paused: boolean;
  /** The queue's waiting jobs (wait and prioritized). */
  waitingTotal: number;
  /** Waiting jobs per tenant within the sample, and how many were read. */
  waiting: Map<string, number>;
  sampled: number;
  /** Jobs pending in a fair queue's backlog per tenant (exact). */
  pending: Map<string, number>;
  /** Active jobs per tenant (within the sample). */
  active: Map<string, number>;
  /** The stats slots read, oldest first. */
  slots: JobStatsSlot[];
  /** Live tenant pauses and overrides (fair queues only; empty otherwise). */
  controls: Map<string, { paused: TenantPauseState | undefined; override: TenantOverrideState | undefined }>;
}

/** Live tenant controls of a queue; none on a queue without fair scheduling. */
async function controlsOf(redis: RedisClient, name: string, prefix: string): Promise<QueueTenantData['controls']> {
  try {
    const list = await listTenantControls(name, { connection: redis, prefix });
    return new Map(list.map(({ tenantId, paused, override }) => [tenantId, { paused, override }]));
  } catch (error) {
    if (error instanceof FairnessRequiredError) return new Map();
    throw error;
  }
}

/** Reads {@link QueueTenantData} of one queue: bounded by the samples and the retained slots. */
export async function readQueueTenantData(
  redis: RedisClient,
  name: string,
  options: { prefix: string; sinceMs?: number; now?: number; tenantSampleSize?: number; activeSampleSize?: number },
): Promise<QueueTenantData> {
  // options.prefix is the base prefix; on a cluster the queue's keys carry its hash tag.
  const prefix = queuePrefix(redis, options.prefix, name);
  // skipMetasUpdate: reading must not rewrite the queue's meta hash (nor create one).
  const queue = new Queue(name, { connection: redis, prefix, skipMetasUpdate: true });
  queue.on('error', () => undefined);
  try {
    const [counts, paused] = await Promise.all([queue.getJobCounts('wait', 'prioritized'), queue.isPaused()]);
    const sampleSize = Math.max(0, options.tenantSampleSize ?? DEFAULT_TENANT_SAMPLE_SIZE);
    const [waiting, pending, activeIds, slots, controls] = await Promise.all([
      sampleWaitingJobs(redis, queue, sampleSize, (counts.prioritized ?? 0) > 0),
      jobStats.pendingByTenant(redis, name, { prefix }),
      redis.lrange(queue.toKey('active'), 0, Math.max(0, options.activeSampleSize ?? 1000) - 1),
      jobStats.read(redis, name, {
        prefix,
        ...(options.sinceMs !== undefined ? { sinceMs: options.sinceMs } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
      }),
      controlsOf(redis, name, options.prefix),
    ]);
    return {
      queue: name,
      paused,
      waitingTotal: (counts.wait ?? 0) + (counts.prioritized ?? 0),
      waiting: waiting.tenants,
      sampled: waiting.ids.length,
      pending,
      active: (await tenantsOfJobs(redis, queue, activeIds)).tenants,
      slots,
      controls,
    };
  } finally {
    await queue.close();
  }
}

/** A tenant's backlog in a queue's data: waiting (sampled) plus pending in the fair backlog. */
export function backlogOf(data: QueueTenantData, tenantId: string): number {
  return (data.waiting.get(tenantId) ?? 0) + (data.pending.get(tenantId) ?? 0);
}

async function queueTenants(redis: RedisClient, name: string, prefix: string, now: number, sinceMs: number, options: TenantStatsOptions): Promise<TenantQueueStats[]> {
  const data = await readQueueTenantData(redis, name, {
    prefix,
    sinceMs,
    now,
    ...(options.tenantSampleSize !== undefined ? { tenantSampleSize: options.tenantSampleSize } : {}),
    ...(options.activeSampleSize !== undefined ? { activeSampleSize: options.activeSampleSize } : {}),
  });
  const recent = sumSlots(data.slots);
  const backlogExact = data.sampled >= data.waitingTotal;
  const ids = new Set([...data.waiting.keys(), ...data.pending.keys(), ...data.active.keys(), ...recent.keys(), ...data.controls.keys()]);
  const rows: TenantQueueStats[] = [];
  for (const tenantId of ids) {
    if (options.tenantId !== undefined && tenantId !== options.tenantId) continue;
    const stats: TenantJobStats | undefined = recent.get(tenantId);
    rows.push({
      queue: name,
      tenantId,
      backlog: backlogOf(data, tenantId),
      backlogExact,
      active: data.active.get(tenantId) ?? 0,
      queuePaused: data.paused,
      tenantPause: data.controls.get(tenantId)?.paused ?? null,
      override: data.controls.get(tenantId)?.override ?? null,
      waitP95Seconds: stats ? quantileSeconds(stats.wait.buckets, 0.95) : null,
      recent: {
        enqueued: stats?.enqueued ?? 0,
        completed: stats?.completed ?? 0,
        failed: stats?.failed ?? 0,
        failedAttempts: stats?.failedAttempts ?? 0,
        deferred: stats?.deferred ?? {},
      },
    });
  }
  return rows;
}

/** Sort keys of {@link sortTenantStats}. */
export type TenantSort = 'backlog' | 'wait' | 'failed';

/** Sorts rows, largest first (ties: traffic, then queue and tenant id). */
export function sortTenantStats(rows: readonly TenantQueueStats[], by: TenantSort): TenantQueueStats[] {
  const key = (r: TenantQueueStats): number => (by === 'backlog' ? r.backlog : by === 'wait' ? (r.waitP95Seconds ?? -1) : r.recent.failed);
  const traffic = (r: TenantQueueStats) => r.recent.enqueued + r.recent.completed + r.recent.failed;
  return [...rows].sort((a, b) => key(b) - key(a) || traffic(b) - traffic(a) || (a.queue + a.tenantId < b.queue + b.tenantId ? -1 : 1));
}
