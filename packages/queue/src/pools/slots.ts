import { DeferJobError, type RedisClient, type ScriptClient } from '@platform/redis';
import type { ConcurrencyPool } from './pool';
import { poolAcquireScript, poolRefreshScript } from './scripts';

/**
 * The job option a fair queue's dispatch script appends to a job's options (the Redis clock, ms,
 * when it released the job) when it took the job's pool slots at hand-out. Read only on the job's
 * first start.
 */
export const POOL_HANDOUT_OPTION = 'platformPoolSlotsAt';

/** A job's pool member: `<tenantId>|<queue>|<jobId>` (tenant ids have no `|`). */
export const poolMember = (tenantId: string, queueName: string, jobId: string): string => `${tenantId}|${queueName}|${jobId}`;

/** Jitter so that jobs deferred together do not all come back in the same millisecond. */
const retryMs = (waitMs: number): number => Math.min(waitMs, 200) + Math.floor(Math.random() * 100);

interface StartedJob {
  opts?: object;
  attemptsStarted?: number;
}

/**
 * The pool slots held by one queue definition's running jobs in this process. All of them are
 * refreshed by one script per pool every `leaseMs / 3` (not a timer per job), and slots given back
 * in the same event-loop turn go in one ZREM per pool. A process that dies refreshes nothing, so its
 * slots free within `leaseMs`.
 */
export class PoolSlots {
  /** Members whose slots this process keeps alive. */
  private readonly held = new Set<string>();
  private releasing: string[] = [];
  private flushed: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** How far the Redis clock runs ahead of this host's (ms; negative: behind), as last read. */
  private redisClockAheadMs = 0;
  /** How often held slots are refreshed, and how long after its hand-out a job may start on a slot taken then. */
  readonly refreshEveryMs: number;

  constructor(
    readonly queueName: string,
    readonly pools: readonly ConcurrencyPool[],
    private readonly client: () => ScriptClient & RedisClient,
  ) {
    this.refreshEveryMs = Math.max(Math.floor(Math.min(...pools.map((p) => p.leaseMs)) / 3), 10);
  }

  /**
   * Whether a starting job holds the slots its fair dispatch took at hand-out: its first start,
   * within `leaseMs / 3` of the release (so the slots are live for at least another `leaseMs / 3`,
   * less the error of this host's reading of the Redis clock, by which time the first refresh has
   * run). Read from the job's own options (no call): the dispatch script wrote the release time there.
   */
  handedOut(job: StartedJob): boolean {
    const at = (job.opts as Record<string, unknown> | undefined)?.[POOL_HANDOUT_OPTION];
    return typeof at === 'number' && job.attemptsStarted === 1 && Date.now() + this.redisClockAheadMs - at < this.refreshEveryMs;
  }

  /**
   * Records a reading of the Redis clock (ms) answered to a call sent at `sentAtMs` and answered at
   * `receivedAtMs` on this host's clock. {@link handedOut} then measures a job's hand-out age on
   * Redis's clock, so a host whose clock runs behind Redis's does not take expired slots for live
   * ones (until the first reading, the host's own clock is used). The fair scheduler's heartbeat
   * feeds it every second.
   */
  observeRedisClock(redisMs: number, sentAtMs: number, receivedAtMs: number): void {
    if (!Number.isFinite(redisMs) || receivedAtMs < sentAtMs) return;
    this.redisClockAheadMs = redisMs - (sentAtMs + receivedAtMs) / 2;
  }

  /** Takes a slot of every pool, in order; a full pool gives back the slots taken and throws a deferral. */
  async acquire(member: string, tenantId: string): Promise<void> {
    const redis = this.client();
    const taken: ConcurrencyPool[] = [];
    for (const pool of this.pools) {
      const waitMs = await poolAcquireScript.run(redis, [pool.key], [member, `${tenantId}|`, pool.max, pool.perTenant ?? 0, pool.leaseMs]);
      if (waitMs > 0) {
        await Promise.allSettled(taken.map((p) => redis.zrem(p.key, member)));
        throw new DeferJobError(retryMs(waitMs), 'concurrency', `concurrency pool ${pool.name} is full`);
      }
      taken.push(pool);
    }
    this.hold(member);
  }

  /** Keeps the member's slots alive (refreshed) until {@link release}. */
  hold(member: string): void {
    this.held.add(member);
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), this.refreshEveryMs);
    this.timer.unref();
  }

  /**
   * Gives the member's slots back, with the other releases of this event-loop turn. Resolves once
   * Redis has them (never rejects: a slot not given back frees when its lease expires).
   */
  release(member: string): Promise<void> {
    this.held.delete(member);
    if (this.held.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.releasing.push(member);
    this.flushed ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushed;
  }

  private async flush(): Promise<void> {
    const members = this.releasing;
    this.releasing = [];
    this.flushed = undefined;
    const redis = this.client();
    await Promise.allSettled(this.pools.map((pool) => redis.zrem(pool.key, ...members)));
  }

  private refresh(): void {
    if (this.held.size === 0) return;
    const members = [...this.held];
    const redis = this.client();
    for (const pool of this.pools) void poolRefreshScript.run(redis, [pool.key], [pool.leaseMs, ...members]).catch(() => undefined);
  }
}
