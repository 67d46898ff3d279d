import { defaultPrefix, queueOfMetaKey, queuePrefix, scanKeys } from './prefix';
import { Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { fairHeldScoreFloor } from '@platform/queue';

/** True for platform queue names: `namespace__name` (see `queueName`), never containing `:`. */
export function isPlatformQueueName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name) && name.includes('__') && !name.startsWith('__') && !name.endsWith('__');
}

/** Queue depth thresholds (waiting jobs, prioritized included). */
export interface QueueDepthThresholds {
  /** Waiting jobs at or above this are `WARN`. @defaultValue `1000` */
  warn: number;
  /** Waiting jobs at or above this are `CRITICAL`. @defaultValue `10000` */
  critical: number;
}

/** Defaults of {@link QueueDepthThresholds}: warn at 1,000 waiting jobs, critical at 10,000. */
export const defaultQueueDepthThresholds: Readonly<QueueDepthThresholds> = Object.freeze({ warn: 1000, critical: 10_000 });

/**
 * Default of `tenantSampleSize`: at most this many waiting jobs are read per queue to find the top
 * tenants (their `data` field only, in batches of 200), so a queue of a million jobs costs about
 * 1,000 small reads, not a million.
 */
export const DEFAULT_TENANT_SAMPLE_SIZE = 1000;

/** Default of `topTenants`. */
export const DEFAULT_TOP_TENANTS = 10;

/** Options of {@link getQueueStats} and {@link listPlatformQueues}. */
export interface QueueStatsOptions {
  /** BullMQ key prefix. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'` */
  prefix?: string;
  /** Only these queues (full names). @defaultValue every queue found under `prefix`: the platform's, then plain BullMQ queues (see `includePlain`) */
  queues?: readonly string[];
  /** Depth thresholds. @defaultValue {@link defaultQueueDepthThresholds} */
  thresholds?: Partial<QueueDepthThresholds>;
  /** Most waiting jobs read per queue for the tenant breakdown. @defaultValue `1000` */
  tenantSampleSize?: number;
  /** How many tenants to list per queue. @defaultValue `10` */
  topTenants?: number;
  /** Clock used for ages (ms since the epoch). @defaultValue `Date.now` */
  now?: () => number;
  /** Also list plain BullMQ queues (names not `namespace__name`) found under the prefix. @defaultValue `true` */
  includePlain?: boolean;
}

/** `platform`: a `namespace__name` queue made by `defineQueue`; `bullmq`: any other BullMQ queue under the prefix. */
export type QueueKind = 'platform' | 'bullmq';

/** Job counts of one queue. `waiting` includes prioritized jobs (and the jobs of a paused queue); `delayed` leaves out the jobs a fair queue holds for its dispatcher. */
export interface QueueCounts {
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** A tenant and its number of waiting jobs (within the sample). */
export interface TenantDepth {
  tenantId: string;
  waiting: number;
}

/** Depth status of a queue against its thresholds. */
export type QueueDepthStatus = 'OK' | 'WARN' | 'CRITICAL';

/** Statistics of one queue. */
export interface QueueStats {
  /** Full queue name, e.g. `agent__blog-writer`. */
  name: string;
  prefix: string;
  /** Whether the queue is a platform queue or a plain BullMQ queue beside them. */
  kind: QueueKind;
  /** The queue is paused (BullMQ `queue.pause()`): no job is handed out. */
  paused: boolean;
  counts: QueueCounts;
  /** Age in ms of the oldest waiting job; `null` when nothing waits. */
  oldestWaitingAgeMs: number | null;
  /** Top tenants by waiting jobs, most first (ties by tenant id). */
  topTenants: TenantDepth[];
  /** How the tenant breakdown was computed: `exact` when every waiting job was read. */
  tenantSample: { sampled: number; waiting: number; exact: boolean };
  /** `OK`, `WARN` or `CRITICAL` from `counts.waiting` and `thresholds`. */
  status: QueueDepthStatus;
  thresholds: QueueDepthThresholds;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Every BullMQ queue under a prefix (found by scanning `<prefix>:*:meta`), platform queues
 * (`namespace__name`) first, then plain BullMQ queues, each sorted by name.
 */
export async function listQueues(redis: RedisClient, options: Pick<QueueStatsOptions, 'prefix' | 'includePlain'> = {}): Promise<Array<{ name: string; kind: QueueKind }>> {
  const prefix = options.prefix ?? defaultPrefix();
  const found = new Set<string>();
  await scanKeys(redis, `${escapeGlob(prefix)}:*:meta`, (keys) => {
    for (const key of keys) {
      const name = queueOfMetaKey(prefix, key);
      // BullMQ queue names never contain ':' (v5 refuses them).
      if (name !== undefined && name !== '' && !name.includes(':')) found.add(name);
    }
  });
  const names = [...found].sort();
  const platform = names.filter(isPlatformQueueName).map((name) => ({ name, kind: 'platform' as const }));
  const plain = options.includePlain === false ? [] : names.filter((n) => !isPlatformQueueName(n)).map((name) => ({ name, kind: 'bullmq' as const }));
  return [...platform, ...plain];
}

/** Finds every platform queue (`namespace__name`) under a prefix by scanning `<prefix>:*:meta`. */
export async function listPlatformQueues(redis: RedisClient, options: Pick<QueueStatsOptions, 'prefix'> = {}): Promise<string[]> {
  return (await listQueues(redis, { ...options, includePlain: false })).map((q) => q.name);
}

function depthStatus(waiting: number, thresholds: QueueDepthThresholds): QueueDepthStatus {
  if (waiting >= thresholds.critical) return 'CRITICAL';
  if (waiting >= thresholds.warn) return 'WARN';
  return 'OK';
}

function tenantOf(data: string | null): string | undefined {
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(data) as { tenantId?: unknown };
    return typeof parsed.tenantId === 'string' ? parsed.tenantId : undefined;
  } catch {
    return undefined;
  }
}

/** Tenant counts and the oldest `timestamp` of some jobs (their `data` and `timestamp` only, 200 per round trip). */
export async function tenantsOfJobs(redis: RedisClient, queue: Pick<Queue, 'toKey'>, ids: readonly string[]): Promise<{ tenants: Map<string, number>; oldest: number | null }> {
  const tenants = new Map<string, number>();
  let oldest: number | null = null;
  for (let i = 0; i < ids.length; i += 200) {
    const batch = ids.slice(i, i + 200);
    const pipeline = redis.pipeline();
    for (const id of batch) pipeline.hmget(queue.toKey(id), 'data', 'timestamp');
    const replies = (await pipeline.exec()) ?? [];
    for (const [error, reply] of replies) {
      if (error || !Array.isArray(reply)) continue;
      const [data, timestamp] = reply as [string | null, string | null];
      const tenantId = tenantOf(data);
      if (tenantId !== undefined) tenants.set(tenantId, (tenants.get(tenantId) ?? 0) + 1);
      const ts = Number(timestamp);
      if (timestamp && Number.isFinite(ts)) oldest = oldest === null ? ts : Math.min(oldest, ts);
    }
  }
  return { tenants, oldest };
}

/**
 * The sample of waiting jobs: the oldest jobs of the wait list (its right end; a paused queue's
 * jobs stay there in BullMQ 6) first, then prioritized jobs in the order they will be served. Bounded by
 * `sampleSize` whatever the queue's size.
 */
export async function sampleWaitingJobs(
  redis: RedisClient,
  queue: Pick<Queue, 'toKey'>,
  sampleSize: number,
  hasPrioritized: boolean,
): Promise<{ ids: string[]; tenants: Map<string, number>; oldest: number | null }> {
  const ids: string[] = [];
  if (sampleSize > 0) {
    ids.push(...(await redis.lrange(queue.toKey('wait'), -sampleSize, -1)).reverse());
    if (ids.length < sampleSize && hasPrioritized) {
      ids.push(...(await redis.zrange(queue.toKey('prioritized'), '0', String(sampleSize - ids.length - 1))));
    }
  }
  return { ids, ...(await tenantsOfJobs(redis, queue, ids)) };
}

/** Statistics of one queue (see {@link getQueueStats}). */
export async function getOneQueueStats(redis: RedisClient, name: string, options: QueueStatsOptions = {}): Promise<QueueStats> {
  const prefix = options.prefix ?? defaultPrefix();
  const thresholds = { ...defaultQueueDepthThresholds, ...options.thresholds };
  const sampleSize = Math.max(0, options.tenantSampleSize ?? DEFAULT_TENANT_SAMPLE_SIZE);
  const top = Math.max(0, options.topTenants ?? DEFAULT_TOP_TENANTS);
  const now = options.now ?? Date.now;
  // A Queue on a caller's connection does not close that connection on close(); skipMetasUpdate:
  // reading must not rewrite the queue's meta hash (its event stream cap) nor create one.
  const queue = new Queue(name, { connection: redis, prefix: queuePrefix(redis, prefix, name), skipMetasUpdate: true });
  // Connection errors reach the caller through the calls below; unheard 'error' events would be printed with their stacks.
  queue.on('error', () => undefined);
  try {
    const [raw, paused, held] = await Promise.all([
      queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
      queue.isPaused(),
      // A fair queue's pending jobs are held in BullMQ's delayed set: not counted as delayed.
      redis.zcount(queue.keys.delayed!, fairHeldScoreFloor(now()), '+inf'),
    ]);
    const prioritized = raw.prioritized ?? 0;
    const counts: QueueCounts = {
      waiting: (raw.wait ?? 0) + prioritized,
      prioritized,
      active: raw.active ?? 0,
      delayed: Math.max(0, (raw.delayed ?? 0) - held),
      failed: raw.failed ?? 0,
      completed: raw.completed ?? 0,
    };

    const { ids, tenants, oldest } = await sampleWaitingJobs(redis, queue, sampleSize, counts.prioritized > 0);
    const topTenants = [...tenants.entries()]
      .map(([tenantId, waiting]) => ({ tenantId, waiting }))
      .sort((a, b) => b.waiting - a.waiting || (a.tenantId < b.tenantId ? -1 : 1))
      .slice(0, top);
    return {
      name,
      prefix,
      kind: isPlatformQueueName(name) ? 'platform' : 'bullmq',
      paused,
      counts,
      oldestWaitingAgeMs: oldest === null ? null : Math.max(0, now() - oldest),
      topTenants,
      tenantSample: { sampled: ids.length, waiting: counts.waiting, exact: ids.length >= counts.waiting },
      status: depthStatus(counts.waiting, thresholds),
      thresholds,
    };
  } finally {
    await queue.close();
  }
}

/**
 * Statistics of every queue on a Redis (found by scanning `<prefix>:*:meta`): platform queues
 * (`namespace__name`) first, then plain BullMQ queues beside them (`kind`; `includePlain: false`
 * leaves them out). Counts by state, whether the queue is paused, the age of the oldest waiting job, the top tenants by
 * waiting jobs and the depth status against the thresholds.
 *
 * The tenant breakdown reads `tenantId` from the data of at most `tenantSampleSize` waiting jobs
 * per queue (default 1,000; oldest first), so it is exact for queues up to that size and a sample
 * of the head of the queue beyond it (`tenantSample.exact` says which). The oldest-waiting age is
 * exact for FIFO jobs; for prioritized-only queues it is the oldest job within the sample.
 */
export async function getQueueStats(redis: RedisClient, options: QueueStatsOptions = {}): Promise<QueueStats[]> {
  const names = options.queues ? [...options.queues] : (await listQueues(redis, options)).map((q) => q.name);
  const stats: QueueStats[] = [];
  for (const name of names) stats.push(await getOneQueueStats(redis, name, options));
  return stats;
}
