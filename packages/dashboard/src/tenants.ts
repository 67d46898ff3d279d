import type { ConcurrencyPoolUsage } from '@platform/queue';
import type { RedisClient } from '@platform/redis';
import { queuePrefix } from '@platform/ops';

/** What is read per queue to compute the per-tenant figures. */
export interface TenantScanOptions {
  /** BullMQ key prefix. */
  prefix: string;
  /** Queues to read (full names). */
  queues: readonly string[];
  /**
   * Most jobs read per queue and state (waiting, active, delayed, failed and completed in the last
   * hour). Up to this many jobs per state the figures are exact; beyond it they come from a sample
   * (the oldest waiting jobs, the most recent failures).
   */
  sampleSize: number;
  /** Clock (ms since the epoch). */
  now: number;
  /** Usage of the concurrency pools (`pool.usage()`): each tenant's slots go into its row. @defaultValue none */
  pools?: readonly ConcurrencyPoolUsage[];
}

/** A tenant's job figures (in one queue, or summed across queues). */
export interface TenantFigures {
  /** Waiting jobs (BullMQ wait + prioritized + paused) plus jobs held by the fair scheduler. */
  waiting: number;
  active: number;
  delayed: number;
  /** Jobs that failed for good in the last hour. */
  failedLastHour: number;
  /** Jobs completed in the last hour. */
  completedLastHour: number;
  /** 95th percentile of the wait (created to started) of the jobs started in the last hour; `null` without any. */
  waitP95Ms: number | null;
  /** Age of the tenant's oldest waiting BullMQ job; `null` when none was read. */
  oldestWaitingAgeMs: number | null;
}

/** One tenant's figures in one queue. */
export interface TenantQueueFigures extends TenantFigures {
  queue: string;
}

/** A tenant's slots in one concurrency pool: its own figure only, never the pool's total. */
export interface TenantPoolFigures {
  pool: string;
  /** Slots the tenant holds now. */
  inUse: number;
  /** The pool's cap per tenant; `null` without one. */
  perTenant: number | null;
}

/** One row of the tenants table: a tenant's figures summed across queues. */
export interface TenantRow extends TenantFigures {
  tenantId: string;
  /** Waiting plus delayed jobs across queues. */
  backlog: number;
  /** Per-queue figures, only queues where the tenant has something. */
  queues: TenantQueueFigures[];
  /** Concurrency pool slots the tenant holds now, across the dashboard's pools (0 without pools). */
  poolSlots: number;
  /** Per-pool slots, only pools where the tenant holds one. */
  pools: TenantPoolFigures[];
}

/** How much of a queue's state was read. */
export interface SampleCoverage {
  queue: string;
  state: JobState;
  /** Jobs read. */
  read: number;
  /** Jobs in that state (for failed/completed: in the last hour). */
  total: number;
}

/** Every tenant's figures at one moment. */
export interface TenantSnapshot {
  /** When it was computed (ms since the epoch). */
  at: number;
  tenants: TenantRow[];
  /** True when every job of every state was read (no sampling). */
  exact: boolean;
  /** The states that were sampled (read < total); empty when exact. */
  sampled: SampleCoverage[];
  /** The concurrency pools read, with their per-tenant caps (the tenants table shows pool slots when there are any). */
  pools: Array<Omit<TenantPoolFigures, 'inUse'>>;
}

type JobState = 'waiting' | 'active' | 'delayed' | 'failed' | 'completed';

const BATCH = 500;
const HOUR_MS = 3_600_000;

/** `tenantId` of a job's `data` field, without trusting its shape. */
export function tenantOfData(data: string | null | undefined): string | undefined {
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(data) as { tenantId?: unknown } | null;
    return typeof parsed?.tenantId === 'string' ? parsed.tenantId : undefined;
  } catch {
    return undefined;
  }
}

/** The p-th percentile (0..1) of `values` by nearest rank; `null` for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

interface Acc {
  waiting: number;
  active: number;
  delayed: number;
  failedLastHour: number;
  completedLastHour: number;
  waits: number[];
  oldest: number | null;
}

/** The counter of {@link Acc} that a job read in each state adds to. */
const COUNTED_AS = {
  waiting: 'waiting',
  active: 'active',
  delayed: 'delayed',
  failed: 'failedLastHour',
  completed: 'completedLastHour',
} as const satisfies Record<JobState, keyof Acc>;

function emptyAcc(): Acc {
  return { waiting: 0, active: 0, delayed: 0, failedLastHour: 0, completedLastHour: 0, waits: [], oldest: null };
}

/**
 * Pending jobs per tenant held by the fair scheduler (`<prefix>:<queue>:fair:t:<tenant>`), exact:
 * every tenant with pending work is in the scheduler's `ready` or `blocked` set, so one ZCARD per
 * such tenant counts them without scanning the keyspace.
 */
async function fairPending(redis: RedisClient, prefix: string, queue: string): Promise<Map<string, number>> {
  const head = `${queuePrefix(redis, prefix, queue)}:${queue}:fair:`;
  const [ready, blocked] = await Promise.all([redis.zrange(`${head}ready`, '0', '-1'), redis.zrange(`${head}blocked`, '0', '-1')]);
  const tenants = [...new Set([...ready, ...blocked])];
  const counts = new Map<string, number>();
  for (let i = 0; i < tenants.length; i += BATCH) {
    const batch = tenants.slice(i, i + BATCH);
    const pipeline = redis.pipeline();
    for (const tenantId of batch) pipeline.zcard(`${head}t:${tenantId}`);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, count], index) => {
      if (!error && typeof count === 'number' && count > 0) counts.set(batch[index]!, count);
    });
  }
  return counts;
}

/** The ids to read per state (bounded by `n`) and the totals they come from. */
async function idsByState(redis: RedisClient, base: string, n: number, since: number): Promise<Array<{ state: JobState; ids: string[]; total: number }>> {
  const m = redis.multi();
  m.lrange(`${base}wait`, -n, -1);
  m.zrange(`${base}prioritized`, 0, String(n - 1));
  m.lrange(`${base}paused`, -n, -1);
  m.lrange(`${base}active`, 0, n - 1);
  m.zrange(`${base}delayed`, 0, String(n - 1));
  m.zrevrangebyscore(`${base}failed`, '+inf', String(since), 'LIMIT', 0, n);
  m.zrevrangebyscore(`${base}completed`, '+inf', String(since), 'LIMIT', 0, n);
  m.llen(`${base}wait`);
  m.zcard(`${base}prioritized`);
  m.llen(`${base}paused`);
  m.llen(`${base}active`);
  m.zcard(`${base}delayed`);
  m.zcount(`${base}failed`, since, '+inf');
  m.zcount(`${base}completed`, since, '+inf');
  const r = ((await m.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const list = (i: number) => (r[i] as string[]) ?? [];
  const num = (i: number) => Number(r[i] ?? 0);
  const waitingIds = [...list(0).reverse(), ...list(1), ...list(2).reverse()].slice(0, Math.max(n, 0));
  return [
    { state: 'waiting', ids: waitingIds, total: num(7) + num(8) + num(9) },
    { state: 'active', ids: list(3), total: num(10) },
    { state: 'delayed', ids: list(4), total: num(11) },
    { state: 'failed', ids: list(5), total: num(12) },
    { state: 'completed', ids: list(6), total: num(13) },
  ];
}

/** Reads the figures of every tenant in one queue. */
async function scanQueue(
  redis: RedisClient,
  queue: string,
  options: TenantScanOptions,
  coverage: SampleCoverage[],
): Promise<Map<string, Acc>> {
  const base = `${queuePrefix(redis, options.prefix, queue)}:${queue}:`;
  const since = options.now - HOUR_MS;
  const byTenant = new Map<string, Acc>();
  const acc = (tenantId: string) => {
    let found = byTenant.get(tenantId);
    if (!found) byTenant.set(tenantId, (found = emptyAcc()));
    return found;
  };
  const states = await idsByState(redis, base, options.sampleSize, since);
  for (const { state, ids, total } of states) {
    if (ids.length < total) coverage.push({ queue, state, read: ids.length, total });
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const pipeline = redis.pipeline();
      for (const id of batch) pipeline.hmget(`${base}${id}`, 'data', 'timestamp', 'processedOn');
      const replies = (await pipeline.exec()) ?? [];
      for (const [error, reply] of replies) {
        if (error || !Array.isArray(reply)) continue;
        const [data, timestamp, processedOn] = reply as Array<string | null>;
        const tenantId = tenantOfData(data);
        if (tenantId === undefined) continue;
        const a = acc(tenantId);
        const created = Number(timestamp);
        const started = Number(processedOn);
        a[COUNTED_AS[state]] += 1;
        if (state === 'waiting' && timestamp && Number.isFinite(created)) a.oldest = a.oldest === null ? created : Math.min(a.oldest, created);
        if ((state === 'active' || state === 'completed' || state === 'failed') && processedOn && started >= since && Number.isFinite(created)) {
          a.waits.push(Math.max(0, started - created));
        }
      }
    }
  }
  for (const [tenantId, pending] of await fairPending(redis, options.prefix, queue)) acc(tenantId).waiting += pending;
  return byTenant;
}

/**
 * Every tenant's backlog, activity, failures and wait across `queues`, read from Redis with a
 * bounded cost: per queue and state at most `sampleSize` job hashes (the `data`, `timestamp` and
 * `processedOn` fields, in pipelines of 500), plus one ZCARD per tenant for fair queues' pending
 * sets. `exact` says whether anything was sampled.
 */
export async function readTenantSnapshot(redis: RedisClient, options: TenantScanOptions): Promise<TenantSnapshot> {
  const coverage: SampleCoverage[] = [];
  const rows = new Map<string, TenantRow & { allWaits: number[] }>();
  const rowOf = (tenantId: string): TenantRow & { allWaits: number[] } => {
    let row = rows.get(tenantId);
    if (!row) {
      row = {
        tenantId,
        backlog: 0,
        waiting: 0,
        active: 0,
        delayed: 0,
        failedLastHour: 0,
        completedLastHour: 0,
        waitP95Ms: null,
        oldestWaitingAgeMs: null,
        queues: [],
        poolSlots: 0,
        pools: [],
        allWaits: [],
      };
      rows.set(tenantId, row);
    }
    return row;
  };
  for (const queue of options.queues) {
    const byTenant = await scanQueue(redis, queue, options, coverage);
    for (const [tenantId, a] of byTenant) {
      const row = rowOf(tenantId);
      const oldestAge = a.oldest === null ? null : Math.max(0, options.now - a.oldest);
      row.queues.push({
        queue,
        waiting: a.waiting,
        active: a.active,
        delayed: a.delayed,
        failedLastHour: a.failedLastHour,
        completedLastHour: a.completedLastHour,
        waitP95Ms: percentile(a.waits, 0.95),
        oldestWaitingAgeMs: oldestAge,
      });
      row.waiting += a.waiting;
      row.active += a.active;
      row.delayed += a.delayed;
      row.backlog += a.waiting + a.delayed;
      row.failedLastHour += a.failedLastHour;
      row.completedLastHour += a.completedLastHour;
      row.allWaits.push(...a.waits);
      if (oldestAge !== null) row.oldestWaitingAgeMs = Math.max(row.oldestWaitingAgeMs ?? 0, oldestAge);
    }
  }
  // A tenant holding pool slots has a row even without jobs in the queues read.
  const pools = options.pools ?? [];
  for (const usage of pools) {
    for (const [tenantId, inUse] of Object.entries(usage.byTenant)) {
      if (inUse <= 0) continue;
      const row = rowOf(tenantId);
      row.pools.push({ pool: usage.name, inUse, perTenant: usage.perTenant ?? null });
      row.poolSlots += inUse;
    }
  }
  const tenants: TenantRow[] = [];
  for (const { allWaits, ...row } of rows.values()) tenants.push({ ...row, waitP95Ms: percentile(allWaits, 0.95) });
  tenants.sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0));
  return { at: options.now, tenants, exact: coverage.length === 0, sampled: coverage, pools: pools.map((usage) => ({ pool: usage.name, perTenant: usage.perTenant ?? null })) };
}

/** Sort keys of the tenants table. */
export const TENANT_SORT_KEYS = ['tenantId', 'backlog', 'active', 'waitP95Ms', 'failedLastHour', 'completedLastHour', 'oldestWaitingAgeMs', 'poolSlots'] as const;

/** One of {@link TENANT_SORT_KEYS}. */
export type TenantSortKey = (typeof TENANT_SORT_KEYS)[number];

/** A page of the tenants table. */
export interface TenantPage {
  rows: TenantRow[];
  /** Tenants matching the search (all pages). */
  total: number;
  page: number;
  pageCount: number;
  pageSize: number;
}

/** Query of {@link pageTenants}. */
export interface TenantQuery {
  /** Case-insensitive substring of the tenant id. */
  search?: string;
  sort?: TenantSortKey;
  dir?: 'asc' | 'desc';
  /** 1-based. */
  page?: number;
  pageSize?: number;
}

/** Searches, sorts (nulls last, ties by tenant id) and pages the rows. */
export function pageTenants(rows: readonly TenantRow[], query: TenantQuery): TenantPage {
  const search = (query.search ?? '').trim().toLowerCase();
  const sort = query.sort ?? 'backlog';
  const dir = query.dir ?? (sort === 'tenantId' ? 'asc' : 'desc');
  const pageSize = Math.max(1, Math.min(500, Math.floor(query.pageSize ?? 50)));
  const matching = search ? rows.filter((row) => row.tenantId.toLowerCase().includes(search)) : [...rows];
  const sign = dir === 'asc' ? 1 : -1;
  matching.sort((a, b) => {
    const x = a[sort];
    const y = b[sort];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    }
    return a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0;
  });
  const pageCount = Math.max(1, Math.ceil(matching.length / pageSize));
  const page = Math.max(1, Math.min(pageCount, Math.floor(query.page ?? 1)));
  return { rows: matching.slice((page - 1) * pageSize, page * pageSize), total: matching.length, page, pageCount, pageSize };
}
