import { defineScript, isDeferral, type ScriptClient, type RedisClient } from '@platform/redis';
import { DelayedError, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError, type Job } from 'bullmq';
import { fairKeys } from './fairness/keys';
import recordLua from './lua/recordJobStats-1.lua';

/**
 * Job statistics recorded by the code that sees the events (producers for enqueues, `createWorker`
 * for starts and outcomes), kept in Redis so that any process (the CLI, a metrics exporter) reads
 * the same numbers. Per queue, one hash per time slot of {@link JOB_STATS_SLOT_MS}
 * (`<prefix>:<queue>:stats:<slot>`), fields `<tenant>|<series>`, expiring
 * {@link JOB_STATS_RETENTION_SLOTS} slots after it ends: memory is bounded by the tenants active
 * within the last hour, whatever ran before.
 */
export const JOB_STATS_SLOT_MS = 300_000;
/** Slots kept after the current one (13 x 5 min: the last hour is always complete). */
export const JOB_STATS_RETENTION_SLOTS = 13;
/** Upper bounds (seconds) of the wait and run histograms; a last bucket takes the rest (+Inf). */
export const JOB_STATS_BUCKETS = Object.freeze([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]);

export const recordScript = defineScript<number>({ name: 'recordJobStats', numberOfKeys: 1, lua: recordLua });

/** The series of a slot, as field suffixes. `w<i>`/`r<i>`: wait/run bucket i; `ws`/`rs`: sums in ms. */
export type JobStatsField = 'e' | 'c' | 'f' | 'a' | `d:${string}` | `w${number}` | `r${number}` | 'ws' | 'rs';

export function jobStatsKey(prefix: string, queueName: string, slot: number): string {
  return `${prefix}:${queueName}:stats:${slot}`;
}

/** The series names of the wait and run buckets, built once (no string built per job). */
const WAIT_FIELDS = Array.from({ length: JOB_STATS_BUCKETS.length + 1 }, (_, i) => `w${i}` as const);
const RUN_FIELDS = Array.from({ length: JOB_STATS_BUCKETS.length + 1 }, (_, i) => `r${i}` as const);

export function bucketOf(seconds: number): number {
  for (let i = 0; i < JOB_STATS_BUCKETS.length; i++) if (seconds <= JOB_STATS_BUCKETS[i]!) return i;
  return JOB_STATS_BUCKETS.length;
}

/** A deferral's reason as a label value: its `deferralReason`, else its `code`, else `unspecified`. */
export function deferralReasonOf(error: unknown): string {
  const { deferralReason, code } = error as { deferralReason?: unknown; code?: unknown };
  const raw = typeof deferralReason === 'string' ? deferralReason : typeof code === 'string' ? code : 'unspecified';
  return raw.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 40) || 'unspecified';
}

/**
 * Adds increments to the current slot. Never throws and is not awaited by callers on the job path:
 * a lost increment (Redis down) costs a metric, never a job.
 */
export function recordJobStats(
  client: ScriptClient,
  prefix: string,
  queueName: string,
  increments: ReadonlyMap<string, number>,
  now = Date.now(),
): Promise<void> {
  if (increments.size === 0) return Promise.resolve();
  const slot = Math.floor(now / JOB_STATS_SLOT_MS);
  const expireAt = (slot + 1 + JOB_STATS_RETENTION_SLOTS) * JOB_STATS_SLOT_MS;
  const args: Array<string | number> = [expireAt];
  for (const [field, by] of increments) args.push(field, Math.round(by));
  return recordScript.run(client, [jobStatsKey(prefix, queueName, slot)], args).then(
    () => undefined,
    () => undefined,
  );
}

/**
 * How long increments wait in process before they are written: every event of this window goes
 * out in one script call per queue, so recording costs a fraction of a command per job instead
 * of one command per enqueue and per attempt.
 */
export const JOB_STATS_FLUSH_MS = 100;

/** Buffers a queue's increments (see {@link createStatsRecorder}). */
export interface StatsRecorder {
  /** Adds `by` to `<tenantId>|<series>` (no I/O). */
  increment(tenantId: string, series: JobStatsField, by: number, now?: number): void;
  /**
   * Writes what every recorder of the process has buffered now (one script call per queue and
   * slot) and resolves once this recorder's own part is written; never rejects. Only its own part
   * is awaited: another recorder's connection (a worker's, which retries without bound) cannot
   * hold up the caller while Redis is down.
   */
  flush(): Promise<void>;
}

/** Flushes of the recorders holding increments, written together so that one process's counts land in the order they happened. */
const dirty = new Set<() => Promise<void>>();
let flushTimer: NodeJS.Timeout | undefined;

/** Starts every pending write; answers each recorder's write by its flush function. */
function flushAll(): Map<() => Promise<void>, Promise<void>> {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  const writes = new Map<() => Promise<void>, Promise<void>>();
  for (const flush of dirty) writes.set(flush, flush());
  dirty.clear();
  return writes;
}

/**
 * A buffer of increments for one queue. Every recorder of the process is written together by one
 * unawaited script call per queue and slot, {@link JOB_STATS_FLUSH_MS} after the first buffered
 * event (timer unref'd), and on `flush()` (queue and worker close call it). A process that dies
 * loses at most its last 100 ms of counts: a metric, never a job.
 */
export function createStatsRecorder(client: () => ScriptClient, prefix: string, queueName: string): StatsRecorder {
  // slot -> tenant -> series -> count: no string built per event; fields are joined once per flush.
  let pending = new Map<number, Map<string, Map<string, number>>>();
  // `recordJobStats` never rejects, so neither does a write.
  const write = (): Promise<void> => {
    const slots = pending;
    pending = new Map();
    const redis = client();
    return Promise.all(
      [...slots].map(([slot, tenants]) => {
        const increments = new Map<string, number>();
        for (const [tenantId, series] of tenants) for (const [name, by] of series) increments.set(`${tenantId}|${name}`, by);
        return recordJobStats(redis, prefix, queueName, increments, slot * JOB_STATS_SLOT_MS);
      }),
    ).then(() => undefined);
  };
  // The first increment of each slot is written at once: it may create the slot's hash, and a key
  // should appear right after the call that caused it, not during a later one (the buffered
  // increments after it only change fields of that hash).
  let lastSlot = -1;
  let writeNow = false;
  const bufferOf = (now: number): Map<string, Map<string, number>> => {
    const slot = Math.floor(now / JOB_STATS_SLOT_MS);
    if (slot > lastSlot) {
      lastSlot = slot;
      writeNow = true;
    }
    let buffer = pending.get(slot);
    if (!buffer) pending.set(slot, (buffer = new Map()));
    if (!dirty.has(write)) {
      dirty.add(write);
      if (!flushTimer) {
        flushTimer = setTimeout(() => {
          flushAll();
        }, JOB_STATS_FLUSH_MS);
        flushTimer.unref();
      }
    }
    return buffer;
  };
  // The last tenant's counts in the last buffer: a job's attempt adds several series in a row.
  let lastBuffer: Map<string, Map<string, number>> | undefined;
  let lastTenant = '';
  let lastCounts: Map<string, number> | undefined;
  return {
    increment(tenantId, series, by, now = Date.now()) {
      const buffer = bufferOf(now);
      let counts = buffer === lastBuffer && tenantId === lastTenant ? lastCounts : buffer.get(tenantId);
      if (!counts) buffer.set(tenantId, (counts = new Map()));
      lastBuffer = buffer;
      lastTenant = tenantId;
      lastCounts = counts;
      counts.set(series, (counts.get(series) ?? 0) + by);
      if (writeNow) {
        writeNow = false;
        dirty.delete(write);
        void write();
      }
    },
    flush: () => flushAll().get(write) ?? Promise.resolve(),
  };
}

/** Deletes every retained stats slot of a queue (its `obliterate`): one DEL of computed keys, no SCAN. */
export async function deleteJobStats(redis: Pick<RedisClient, 'del'>, prefix: string, queueName: string, now = Date.now()): Promise<void> {
  const current = Math.floor(now / JOB_STATS_SLOT_MS);
  const keys: string[] = [];
  // One slot beyond each end, for clocks a little apart between processes.
  for (let slot = current - JOB_STATS_RETENTION_SLOTS - 1; slot <= current + 1; slot++) keys.push(jobStatsKey(prefix, queueName, slot));
  // One key per call: on a cluster each slot key may live elsewhere.
  await Promise.all(keys.map((key) => redis.del(key)));
}

/**
 * What one attempt of a job adds: the wait (enqueue to the start of its first attempt that was
 * not deferred) and run time histograms, and its outcome: completed, deferred (by reason, no
 * attempt spent), a failed attempt, and failed for good when no attempt is left.
 */
export function attemptIncrements(
  job: Pick<Job, 'timestamp' | 'attemptsMade' | 'opts'>,
  tenantId: string,
  startedAt: number,
  endedAt: number,
  outcome: { error?: unknown },
): Map<string, number> {
  const increments = new Map<string, number>();
  forEachAttemptIncrement(job, startedAt, endedAt, outcome, (series, by) => {
    const field = `${tenantId}|${series}`;
    increments.set(field, (increments.get(field) ?? 0) + by);
  });
  return increments;
}

/** What {@link attemptIncrements} adds, one series at a time (the worker feeds its recorder with it, no Map per job). */
export function forEachAttemptIncrement(
  job: Pick<Job, 'timestamp' | 'attemptsMade' | 'opts'>,
  startedAt: number,
  endedAt: number,
  outcome: { error?: unknown },
  add: (series: JobStatsField, by: number) => void,
): void {
  const { error } = outcome;
  // BullMQ's own control-flow errors (a handler that moved its job itself) are not outcomes.
  if (error instanceof DelayedError || error instanceof WaitingChildrenError || error instanceof WaitingError || error instanceof RateLimitError) return;
  if ('error' in outcome && isDeferral(outcome.error)) {
    add(`d:${deferralReasonOf(outcome.error)}`, 1);
    return;
  }
  if (job.attemptsMade === 0 && job.timestamp > 0) {
    const waitMs = Math.max(0, startedAt - job.timestamp - Math.max(0, job.opts.delay ?? 0));
    add(WAIT_FIELDS[bucketOf(waitMs / 1000)]!, 1);
    add('ws', waitMs);
  }
  const runMs = Math.max(0, endedAt - startedAt);
  add(RUN_FIELDS[bucketOf(runMs / 1000)]!, 1);
  add('rs', runMs);
  if (!('error' in outcome)) {
    add('c', 1);
    return;
  }
  add('a', 1);
  const attempts = Math.max(1, job.opts.attempts ?? 1);
  if (outcome.error instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts) add('f', 1);
}

/** One tenant's sums over some slots (see {@link readJobStats}). */
export interface TenantJobStats {
  enqueued: number;
  completed: number;
  /** Jobs that failed for good (no attempt left, or unrecoverable). */
  failed: number;
  /** Failed attempts, including each job's last. */
  failedAttempts: number;
  /** Deferrals by reason. */
  deferred: Record<string, number>;
  /** Wait histogram: counts per bucket of {@link JOB_STATS_BUCKETS} (plus +Inf), and the sum in ms. */
  wait: { buckets: number[]; sumMs: number };
  /** Run time histogram, as `wait`. */
  run: { buckets: number[]; sumMs: number };
}

/** An empty {@link TenantJobStats}. */
export function emptyTenantJobStats(): TenantJobStats {
  const zeros = () => Array<number>(JOB_STATS_BUCKETS.length + 1).fill(0);
  return { enqueued: 0, completed: 0, failed: 0, failedAttempts: 0, deferred: {}, wait: { buckets: zeros(), sumMs: 0 }, run: { buckets: zeros(), sumMs: 0 } };
}

/** Adds one hash field's value to a tenant's stats; false for a field it does not know. */
export function addStatsField(stats: TenantJobStats, series: string, value: number): boolean {
  if (series === 'e') stats.enqueued += value;
  else if (series === 'c') stats.completed += value;
  else if (series === 'f') stats.failed += value;
  else if (series === 'a') stats.failedAttempts += value;
  else if (series === 'ws') stats.wait.sumMs += value;
  else if (series === 'rs') stats.run.sumMs += value;
  else if (series.startsWith('d:')) stats.deferred[series.slice(2)] = (stats.deferred[series.slice(2)] ?? 0) + value;
  else {
    const match = /^([wr])(\d+)$/.exec(series);
    const hist = match?.[1] === 'w' ? stats.wait : match?.[1] === 'r' ? stats.run : undefined;
    const i = Number(match?.[2]);
    if (!hist || !(i < hist.buckets.length)) return false;
    hist.buckets[i]! += value;
  }
  return true;
}

/** Splits a field `<tenant>|<series>`. */
export function splitStatsField(field: string): [tenantId: string, series: string] | undefined {
  const bar = field.indexOf('|');
  return bar <= 0 ? undefined : [field.slice(0, bar), field.slice(bar + 1)];
}

/** One retained slot of a queue's stats, decoded. */
export interface JobStatsSlot {
  slot: number;
  /** When the slot began, ms since the epoch. */
  startMs: number;
  /** Per tenant, what happened within the slot. */
  tenants: Map<string, TenantJobStats>;
}

/** Options of {@link readJobStats}. */
export interface ReadJobStatsOptions {
  /** BullMQ prefix of the queue. */
  prefix: string;
  /** Only slots that end after this time (ms since the epoch). @defaultValue every retained slot */
  sinceMs?: number;
  /** Clock (ms since the epoch). @defaultValue `Date.now()` */
  now?: number;
}

/** Decodes a slot hash (fields `<tenant>|<series>`) per tenant; unknown fields are skipped. */
export function decodeJobStats(fields: Record<string, string>): Map<string, TenantJobStats> {
  const tenants = new Map<string, TenantJobStats>();
  for (const [field, raw] of Object.entries(fields)) {
    const parts = splitStatsField(field);
    const value = Number(raw);
    if (!parts || !Number.isFinite(value)) continue;
    let stats = tenants.get(parts[0]);
    if (!stats) tenants.set(parts[0], (stats = emptyTenantJobStats()));
    addStatsField(stats, parts[1], value);
  }
  return tenants;
}

/**
 * Reads the retained stats slots of a queue, oldest first (one HGETALL per slot, pipelined), for
 * readers such as `@platform/ops` that sum them or turn them into Prometheus series.
 */
export async function readJobStats(redis: RedisClient, queueName: string, options: ReadJobStatsOptions): Promise<JobStatsSlot[]> {
  const now = options.now ?? Date.now();
  const current = Math.floor(now / JOB_STATS_SLOT_MS);
  const slots: number[] = [];
  for (let slot = current - JOB_STATS_RETENTION_SLOTS; slot <= current; slot++) {
    if (options.sinceMs === undefined || (slot + 1) * JOB_STATS_SLOT_MS > options.sinceMs) slots.push(slot);
  }
  const pipeline = redis.pipeline();
  for (const slot of slots) pipeline.hgetall(jobStatsKey(options.prefix, queueName, slot));
  const replies = (await pipeline.exec()) ?? [];
  return slots.map((slot, i) => {
    const [error, fields] = replies[i] ?? [null, {}];
    if (error) throw error;
    return { slot, startMs: slot * JOB_STATS_SLOT_MS, tenants: decodeJobStats((fields ?? {}) as Record<string, string>) };
  });
}

/**
 * Jobs of each tenant still pending in a fair queue's backlog (not yet handed to BullMQ): exact,
 * one ZCARD per tenant with pending work. Empty for a plain queue.
 */
export async function pendingByTenant(redis: RedisClient, queueName: string, options: { prefix: string }): Promise<Map<string, number>> {
  const keys = fairKeys(options.prefix, queueName);
  const [ready, blocked] = await Promise.all([redis.zrange(keys.ready, '0', '-1'), redis.zrange(keys.blocked, '0', '-1')]);
  const tenants = [...new Set([...ready, ...blocked])];
  const result = new Map<string, number>();
  for (let i = 0; i < tenants.length; i += 500) {
    const batch = tenants.slice(i, i + 500);
    const pipeline = redis.pipeline();
    for (const tenantId of batch) pipeline.zcard(keys.pending(tenantId));
    const replies = (await pipeline.exec()) ?? [];
    batch.forEach((tenantId, k) => {
      const n = Number(replies[k]?.[1] ?? 0);
      if (n > 0) result.set(tenantId, n);
    });
  }
  return result;
}

/**
 * The job statistics that producers and `createWorker` record in Redis, for readers (`@platform/ops`,
 * dashboards): `read(redis, queueName, { prefix, sinceMs? })` returns the retained slots decoded per
 * tenant; `pendingByTenant(redis, queueName, { prefix })` the jobs each tenant has in a fair queue's
 * backlog; `slotMs`, `retentionSlots` and `buckets` (histogram bounds, seconds) describe the slots.
 */
export const jobStats = Object.freeze({
  read: readJobStats,
  pendingByTenant,
  slotMs: JOB_STATS_SLOT_MS,
  retentionSlots: JOB_STATS_RETENTION_SLOTS,
  buckets: JOB_STATS_BUCKETS,
});
