import { listFailedJobs, queuePrefix, retryFailedJobs, type FailedJobInfo } from '@platform/ops';
import { scanKeys } from '@platform/redis/internal';
import { PlatformError, redisKey, type RedisClient } from '@platform/redis';
import { Job, Queue } from 'bullmq';

/** Recent failures of one tenant in one queue. */
export interface TenantFailures {
  queue: string;
  jobs: FailedJobInfo[];
}

/** Read-only state of one rate limiter key of a tenant. */
export interface RateLimiterState {
  provider: string;
  /** `window counter` (fixed window), `token bucket`, `sliding window` or `concurrency`. */
  kind: 'window counter' | 'token bucket' | 'sliding window' | 'concurrency';
  /** What the key holds, for humans: calls counted, leases held, or when the bucket is full again. */
  value: string;
  /** Time to live of the key in ms; `null` without a TTL. */
  ttlMs: number | null;
}

const FAILURE_WINDOW_MS = 24 * 3_600_000;

/** The tenant's most recent failures (last 24 h) per queue, newest first, at most `limit` per queue. */
export async function readTenantFailures(redis: RedisClient, prefix: string, queues: readonly string[], tenantId: string, limit: number, now: number): Promise<TenantFailures[]> {
  const result: TenantFailures[] = [];
  for (const queue of queues) {
    const jobs = await listFailedJobs(redis, queue, { prefix, tenantId, since: now - FAILURE_WINDOW_MS, limit });
    if (jobs.length > 0) result.push({ queue, jobs });
  }
  return result;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The tenant's rate limiter keys (`<ratelimit prefix>:<tenant>:<provider>[:inflight]`), found with
 * SCAN, each read without changing it.
 */
export async function readRateLimiters(redis: RedisClient, rateLimitPrefix: string, tenantId: string, nowMs: number): Promise<RateLimiterState[]> {
  const head = `${rateLimitPrefix}:${redisKey(tenantId)}:`;
  const found = new Set<string>();
  // Every master on a cluster (the keys spread by tenant and provider).
  await scanKeys(redis, `${escapeGlob(head)}*`, (batch) => {
    for (const key of batch) if (found.size < 200) found.add(key);
  });
  const keys = [...found].sort();
  const states: RateLimiterState[] = [];
  for (const key of keys.slice(0, 200)) {
    const rest = key.slice(head.length);
    const [type, pttl] = await Promise.all([redis.type(key), redis.pttl(key)]);
    const ttlMs = pttl >= 0 ? pttl : null;
    if (type === 'zset') {
      const count = await redis.zcard(key);
      if (rest.endsWith(':inflight')) states.push({ provider: rest.slice(0, -':inflight'.length), kind: 'concurrency', value: `${count} in flight`, ttlMs });
      else states.push({ provider: rest, kind: 'sliding window', value: `${count} counted in the window`, ttlMs });
    } else if (type === 'string') {
      const raw = Number(await redis.get(key));
      // A token bucket stores the Redis time (µs) at which it is full again; a window counter a small count.
      if (raw > 1e14) {
        const fullInMs = Math.max(0, Math.round(raw / 1000 - nowMs));
        states.push({ provider: rest, kind: 'token bucket', value: fullInMs === 0 ? 'full' : `full again in ${fullInMs} ms`, ttlMs });
      } else {
        states.push({ provider: rest, kind: 'window counter', value: `${raw} used in the current window`, ttlMs });
      }
    }
  }
  return states;
}

/** Thrown when a job to retry is not the tenant's (or does not exist); the handler answers 404. */
export class JobNotFoundError extends PlatformError {
  constructor() {
    super('INVALID_ARGUMENT', 'no such job for this tenant');
  }
}

/** Moves one failed job of the tenant back to waiting (BullMQ's `job.retry('failed')`). */
export async function retryTenantJob(redis: RedisClient, prefix: string, queueName: string, tenantId: string, jobId: string): Promise<void> {
  // Retrying moves the job; it does not reconfigure the queue (its meta hash).
  const queue = new Queue(queueName, { connection: redis, prefix: queuePrefix(redis, prefix, queueName), skipMetasUpdate: true });
  try {
    const job = await Job.fromId(queue, jobId);
    const data = job?.data as { tenantId?: unknown } | undefined;
    if (!job || data?.tenantId !== tenantId) throw new JobNotFoundError();
    await job.retry('failed');
  } finally {
    await queue.close();
  }
}

/** Replays every failed job of the tenant in one queue once; returns how many were moved back. */
export async function retryTenantJobs(redis: RedisClient, prefix: string, queueName: string, tenantId: string): Promise<number> {
  const result = await retryFailedJobs(redis, queueName, { prefix, tenantId });
  return result.retried.length;
}
