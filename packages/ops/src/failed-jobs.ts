import { defaultPrefix, queuePrefix } from './prefix';
import { Job, Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';

/** Options of {@link listFailedJobs} and {@link retryFailedJobs}. */
export interface FailedJobsFilter {
  /** BullMQ key prefix. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'` */
  prefix?: string;
  /** Only jobs whose `data.tenantId` is this tenant. @defaultValue every tenant */
  tenantId?: string;
  /** Only jobs that failed at or after this time (ms since the epoch). @defaultValue no lower bound */
  since?: number;
  /** At most this many jobs (newest failures first). @defaultValue `50` for list, unlimited for retry */
  limit?: number;
}

/** A failed job as the CLI shows it. */
export interface FailedJobInfo {
  id: string;
  name: string;
  /** `data.tenantId`, when the payload has one. */
  tenantId: string | undefined;
  /** The last error message. */
  failedReason: string;
  attemptsMade: number;
  /** When the job was created (ms since the epoch). */
  timestamp: number;
  /** When the job failed (ms since the epoch). */
  finishedOn: number | undefined;
}

/** Options of {@link retryFailedJobs}. */
export interface RetryFailedJobsOptions extends FailedJobsFilter {
  /** Called after each job with the number handled so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Result of {@link retryFailedJobs}. */
export interface RetryFailedJobsResult {
  /** Jobs found failed and matching the filter. */
  matched: number;
  /** Jobs moved back to waiting by this call. */
  retried: string[];
  /** Jobs that left the failed set before this call reached them (retried by someone else, removed). */
  skipped: string[];
  /** Jobs whose retry failed for another reason, with the message. */
  errors: Array<{ id: string; message: string }>;
}

const BATCH = 200;

function tenantOf(job: Job): string | undefined {
  const data = job.data as { tenantId?: unknown } | undefined;
  return typeof data?.tenantId === 'string' ? data.tenantId : undefined;
}

function toInfo(job: Job): FailedJobInfo {
  return {
    id: String(job.id),
    name: job.name,
    tenantId: tenantOf(job),
    failedReason: job.failedReason ?? '',
    attemptsMade: job.attemptsMade,
    timestamp: job.timestamp,
    finishedOn: job.finishedOn ?? undefined,
  };
}

/** Walks the failed set newest first, yielding the jobs that match the filter. */
async function* failedJobs(queue: Queue, redis: RedisClient, filter: FailedJobsFilter): AsyncGenerator<Job> {
  const key = queue.toKey('failed');
  const min = filter.since !== undefined ? String(filter.since) : '-inf';
  let offset = 0;
  for (;;) {
    const ids = await redis.zrevrangebyscore(key, '+inf', min, 'LIMIT', offset, BATCH);
    if (ids.length === 0) return;
    offset += ids.length;
    const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
    for (const job of jobs) {
      if (!job) continue;
      if (filter.tenantId !== undefined && tenantOf(job) !== filter.tenantId) continue;
      yield job;
    }
    if (ids.length < BATCH) return;
  }
}

/**
 * Lists failed jobs of a queue, newest failure first, with their reasons; filtered by tenant and
 * failure time. Reads the failed set in batches of 200.
 */
export async function listFailedJobs(redis: RedisClient, queueName: string, filter: FailedJobsFilter = {}): Promise<FailedJobInfo[]> {
  const limit = filter.limit ?? 50;
  // skipMetasUpdate: listing must not rewrite the queue's meta hash (its event stream cap) nor create one.
  const queue = new Queue(queueName, { connection: redis, prefix: queuePrefix(redis, filter.prefix ?? defaultPrefix(), queueName), skipMetasUpdate: true });
  // Connection errors reach the caller through the calls below; unheard 'error' events would be printed with their stacks.
  queue.on('error', () => undefined);
  try {
    const result: FailedJobInfo[] = [];
    if (limit <= 0) return result;
    for await (const job of failedJobs(queue, redis, filter)) {
      result.push(toInfo(job));
      if (result.length >= limit) break;
    }
    return result;
  } finally {
    await queue.close();
  }
}

function leftFailedSet(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /is not in the failed state|Missing key for job/.test(message);
}

/**
 * Replays failed jobs once each: every matching job is moved back to waiting with BullMQ's
 * `job.retry('failed')`, one atomic script that first checks the job is still in the failed set.
 * A job that another run (or a concurrent one) already replayed is therefore skipped, never
 * replayed twice.
 */
export async function retryFailedJobs(redis: RedisClient, queueName: string, options: RetryFailedJobsOptions = {}): Promise<RetryFailedJobsResult> {
  // Replaying moves jobs; it does not reconfigure the queue (its meta hash).
  const queue = new Queue(queueName, { connection: redis, prefix: queuePrefix(redis, options.prefix ?? defaultPrefix(), queueName), skipMetasUpdate: true });
  queue.on('error', () => undefined);
  const result: RetryFailedJobsResult = { matched: 0, retried: [], skipped: [], errors: [] };
  try {
    // Collect the ids first (retrying while walking the set would shift the offsets); only ids are
    // kept, so memory stays small however many jobs failed.
    const ids: string[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit > 0) {
      for await (const job of failedJobs(queue, redis, options)) {
        ids.push(String(job.id));
        if (ids.length >= limit) break;
      }
    }
    result.matched = ids.length;
    let done = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const jobs = await Promise.all(batch.map((id) => Job.fromId(queue, id)));
      for (const [index, job] of jobs.entries()) {
        const id = batch[index]!;
        try {
          if (!job) throw new Error(`Missing key for job ${id}.`);
          await job.retry('failed');
          result.retried.push(id);
        } catch (error) {
          if (leftFailedSet(error)) result.skipped.push(id);
          else result.errors.push({ id, message: error instanceof Error ? error.message : String(error) });
        }
        done += 1;
        options.onProgress?.(done, ids.length);
      }
    }
    return result;
  } finally {
    await queue.close();
  }
}
