import { DeferJobError, type RedisClient, type ScriptClient } from '@platform/redis';
import type { ConcurrencyPool } from './pool';
import { poolAcquireScript, poolRefreshScript } from './scripts';

/** A job's pool member: `<tenantId>|<queue>|<jobId>` (tenant ids have no `|`). */
export const poolMember = (tenantId: string, queueName: string, jobId: string): string => `${tenantId}|${queueName}|${jobId}`;

/** Jitter so that jobs deferred together do not all come back in the same millisecond. */
const retryMs = (waitMs: number): number => Math.min(waitMs, 200) + Math.floor(Math.random() * 100);

interface StartedJob {
  id?: string | undefined;
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
  /** Jobs starting on slots their fair dispatch took at hand-out: jobId -> ms since the release (Redis clock). */
  private readonly handOuts = new Map<string, number>();
  private releasing: string[] = [];
  private flushed: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** How often held slots are refreshed, and how long after its hand-out a job may start on a slot taken then. */
  readonly refreshEveryMs: number;

  constructor(
    readonly queueName: string,
    readonly pools: readonly ConcurrencyPool[],
    private readonly client: () => ScriptClient & RedisClient,
  ) {
    this.refreshEveryMs = Math.max(Math.floor(Math.min(...pools.map((p) => p.leaseMs)) / 3), 10);
  }

  /** Records that a starting job was released `ageMs` ago holding its pool slots (fair dispatch). */
  markHandedOut(jobId: string, ageMs: number): void {
    this.handOuts.set(jobId, ageMs);
  }

  /**
   * Whether a starting job holds the slots its fair dispatch took at hand-out (answered once per
   * {@link markHandedOut}): its first start, within `leaseMs / 3` of the release by the Redis
   * clock (so the slots are live for at least another `leaseMs / 3`, by which time the first
   * refresh has run).
   */
  handedOut(job: StartedJob): boolean {
    if (!job.id) return false;
    const age = this.handOuts.get(job.id);
    if (age === undefined) return false;
    this.handOuts.delete(job.id);
    return job.attemptsStarted === 1 && age < this.refreshEveryMs;
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
