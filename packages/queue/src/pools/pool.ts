import {
  InvalidArgumentError,
  checkInteger,
  checkMs,
  describeValue,
  getSharedConnection,
  namespacedKey,
  resolveKeyPrefix,
  type RedisClient,
} from '@platform/redis';
import { poolMember, type PoolSlots } from './slots';

/** Options of {@link defineConcurrencyPool}. */
export interface ConcurrencyPoolOptions {
  /** Pool name, `[A-Za-z0-9_.-]`, e.g. `llm`. */
  name: string;
  /** Most jobs of every queue that joins the pool running at once. */
  max: number;
  /** Most jobs of one tenant among them. @defaultValue `undefined` (no per-tenant cap) */
  perTenant?: number;
  /**
   * Lifetime of a slot unless refreshed (running jobs refresh it every `leaseMs / 3`): a crashed
   * worker's slot frees within this time. @defaultValue `30000`
   */
  leaseMs?: number;
  /** Key prefix of the pool's key. @defaultValue `REDIS_KEY_PREFIX` (none when unset) */
  keyPrefix?: string;
}

/** What `pool.usage()` answers. */
export interface ConcurrencyPoolUsage {
  name: string;
  max: number;
  perTenant: number | undefined;
  /** Slots held now. */
  active: number;
  /** Slots held now, by tenant. */
  byTenant: Record<string, number>;
}

/** A shared concurrency pool: joined by queues with `defineQueue({ pools: [pool] })`. */
export interface ConcurrencyPool {
  readonly name: string;
  readonly max: number;
  readonly perTenant: number | undefined;
  readonly leaseMs: number;
  /** The pool's Redis key (one sorted set of leases, `<tenantId>|<queue>|<jobId>` -> expiry). */
  readonly key: string;
  /** Slots held now, in total and by tenant (one ZRANGEBYSCORE). */
  usage(client?: RedisClient): Promise<ConcurrencyPoolUsage>;
}

const POOL_NAME = /^[A-Za-z0-9_.-]{1,100}$/;
/** Defaults of {@link ConcurrencyPoolOptions}. */
export const POOL_DEFAULTS = Object.freeze({ leaseMs: 30_000 });

/**
 * A concurrency pool shared by several queues (as Trigger.dev's named limits): a job of a joined
 * queue starts only when the pool has a free slot (and, with `perTenant`, its tenant has one);
 * otherwise it is deferred (moved to delayed for a moment, no attempt spent). Slots are leases, so a
 * crashed worker never keeps one longer than `leaseMs`.
 *
 * @example
 * const llm = defineConcurrencyPool({ name: 'llm', max: 20, perTenant: 3 });
 * const writer = defineQueue({ namespace: 'agent', name: 'writer', schema, pools: [llm] });
 */
export function defineConcurrencyPool(options: ConcurrencyPoolOptions): ConcurrencyPool {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', `defineConcurrencyPool: expected options, got ${describeValue(options)}`);
  const { name } = options;
  if (typeof name !== 'string' || !POOL_NAME.test(name)) {
    throw new InvalidArgumentError('name', `defineConcurrencyPool: name must be 1-100 of [A-Za-z0-9_.-], got ${describeValue(name)}`);
  }
  const max = checkInteger('max', options.max, 1);
  const perTenant = options.perTenant === undefined ? undefined : checkInteger('perTenant', options.perTenant, 1);
  const leaseMs = checkMs('leaseMs', options.leaseMs ?? POOL_DEFAULTS.leaseMs, 100);
  const key = namespacedKey(resolveKeyPrefix(options.keyPrefix), 'pool', name);
  return Object.freeze({
    name,
    max,
    perTenant,
    leaseMs,
    key,
    async usage(client: RedisClient = getSharedConnection('producer')): Promise<ConcurrencyPoolUsage> {
      const [time, members] = await Promise.all([client.time(), client.zrangebyscore(key, '-inf', '+inf', 'WITHSCORES')]);
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
      const byTenant: Record<string, number> = {};
      let active = 0;
      for (let i = 0; i + 1 < members.length; i += 2) {
        if (Number(members[i + 1]) <= now) continue;
        const tenant = members[i]!.slice(0, members[i]!.indexOf('|'));
        byTenant[tenant] = (byTenant[tenant] ?? 0) + 1;
        active++;
      }
      return { name, max, perTenant, active, byTenant };
    },
  });
}

/** Checks `defineQueue({ pools })`. */
export function checkPools(queueName: string, pools: unknown): readonly ConcurrencyPool[] {
  if (pools === undefined) return [];
  if (!Array.isArray(pools) || pools.some((p) => typeof p !== 'object' || p === null || typeof (p as ConcurrencyPool).key !== 'string')) {
    throw new InvalidArgumentError('pools', `defineQueue(${queueName}): pools must be an array of defineConcurrencyPool(...) results`);
  }
  return pools as readonly ConcurrencyPool[];
}

/**
 * Wraps a handler so that it runs only holding a slot of every pool (taken in order; a full pool
 * gives back the slots taken and defers the job), kept alive while it runs and given back after.
 * A job whose fair dispatch took its slots at hand-out ({@link PoolSlots.handedOut}) starts with no
 * pool script.
 */
export function withPools<J extends { id?: string | undefined; opts?: object; attemptsStarted?: number }, C extends { tenantId: string }, R>(
  slots: PoolSlots | undefined,
  handler: (job: J, ctx: C) => Promise<R>,
): (job: J, ctx: C) => Promise<R> {
  if (!slots) return handler;
  return async (job, ctx) => {
    const member = poolMember(ctx.tenantId, slots.queueName, job.id ?? '');
    if (slots.handedOut(job)) slots.hold(member);
    else await slots.acquire(member, ctx.tenantId);
    try {
      return await handler(job, ctx);
    } finally {
      await slots.release(member);
    }
  };
}
