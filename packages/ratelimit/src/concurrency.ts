import { randomBytes } from 'node:crypto';
import { assertTenantId, checkInteger, checkMs, isConnectionError, leases, type LeaseTake, type ScriptClient } from '@platform/redis';
import { ConcurrencyLimitError, unavailableError } from './errors';
import { limiterKeys } from './keys';
import { defaultConcurrencyLimiterOptions, withDefaults } from './options';
import { resetKeyScript } from './scripts';

/** The narrowest client a concurrency limiter needs: `EVALSHA` and `EVAL` (structural, see `LimiterClient`). */
export type ConcurrencyClient = ScriptClient;

/** Options of {@link createConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** The connection (see `createLimiterConnection`). */
  redis: ConcurrencyClient;
  /** The provider being limited (no `:`). */
  provider: string;
  /** Calls allowed in flight at once per tenant. */
  maxInFlight: number;
  /**
   * How long a lease lives unless released or extended. A holder that dies frees its slot after
   * this long, so keep it above the longest call (or `extend` the lease). @defaultValue `60000`
   */
  leaseMs?: number;
  /**
   * Largest `retryAfterMs` suggested on refusal (a slot may free earlier than the oldest lease's
   * expiry, when its holder releases it). @defaultValue `1000`
   */
  retryAfterMs?: number;
  /** First key part. @defaultValue `'ratelimit'` (keys `ratelimit:{tenantId}:{provider}:inflight`) */
  prefix?: string;
  /**
   * The platform's key prefix in front of every key (`''` for none).
   * @defaultValue `REDIS_KEY_PREFIX` (empty: keys are exactly `ratelimit:{tenantId}:{provider}:inflight`)
   */
  keyPrefix?: string;
  /**
   * When Redis cannot be reached, grant a lease that is not recorded anywhere (its `extend` does
   * nothing; its `release` still removes its id, in case the take ran and only its reply was lost).
   * @defaultValue `false`
   */
  failOpen?: boolean;
}

/** A slot held in a concurrency limiter. */
export interface Lease {
  /** The lease id (unique per acquisition). */
  readonly id: string;
  /** The Redis key of the lease set. */
  readonly key: string;
  /** Frees the slot. Resolves `false` if the lease had already expired or been released. */
  release(): Promise<boolean>;
  /** Extends the lease to `ms` from now. Resolves `false` if it had already expired or been released. */
  extend(ms?: number): Promise<boolean>;
}

/** Result of `acquire`. */
export type AcquireResult =
  | { acquired: true; lease: Lease; inFlight: number; retryAfterMs: 0 }
  | { acquired: false; lease: undefined; inFlight: number; retryAfterMs: number };

/** At most `maxInFlight` calls at once per tenant and provider. See {@link createConcurrencyLimiter}. */
export interface ConcurrencyLimiter {
  /** The provider being limited. */
  readonly provider: string;
  /** Calls allowed in flight at once. */
  readonly maxInFlight: number;
  /** Lease length, ms. */
  readonly leaseMs: number;
  /** The lease set's key: `ratelimit:{tenantId}:{provider}:inflight`. */
  key(tenantId: string): string;
  /** Takes a slot if one is free (expired leases are dropped first, in the same script). */
  acquire(tenantId: string): Promise<AcquireResult>;
  /** Live leases of the tenant right now. */
  inFlight(tenantId: string): Promise<number>;
  /** Drops every lease of the tenant. */
  reset(tenantId: string): Promise<void>;
}

const processTag = randomBytes(6).toString('hex');
let leaseCounter = 0;

/**
 * Creates a concurrency limiter: at most `maxInFlight` calls in flight per tenant and provider,
 * for providers that limit parallel requests rather than rate. Each slot is an expiring lease of
 * `@platform/redis`'s `leases` (a member of a sorted set scored by its expiry, Redis time); a holder
 * that dies without releasing frees its slot after `leaseMs`. A connection failure rejects with
 * `RateLimiterUnavailableError` (unless `failOpen`).
 *
 * @example
 * const browser = createConcurrencyLimiter({ redis, provider: 'browserless', maxInFlight: 2 });
 * await withConcurrencyLimit(browser, tenantId, () => render(url));
 */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  const { redis, provider, maxInFlight, leaseMs, retryAfterMs, prefix, failOpen } = withDefaults(options, defaultConcurrencyLimiterOptions);
  const keyOf = limiterKeys({ redis, provider, prefix, keyPrefix: options.keyPrefix }, 'inflight');
  checkInteger('maxInFlight', maxInFlight, 1);
  // A lease's TTL is a timer-sized ms value (at most 2^31 - 1): refused here, not on every acquire.
  checkMs('leaseMs', leaseMs, 1);
  checkInteger('retryAfterMs', retryAfterMs, 0);

  const wrap = (error: unknown, key: string): never => {
    throw unavailableError(error, key);
  };

  const makeLease = (id: string, key: string, recorded: boolean): Lease => ({
    id,
    key,
    async release() {
      if (!recorded) {
        // The take may have run with its reply lost (a timeout): remove the id, without waiting.
        leases.release(redis, key, id).catch(() => false);
        return true;
      }
      try {
        return await leases.release(redis, key, id);
      } catch (error) {
        return wrap(error, key);
      }
    },
    async extend(ms = leaseMs) {
      checkMs('ms', ms, 1);
      if (!recorded) return true;
      try {
        return await leases.refresh(redis, key, id, ms);
      } catch (error) {
        return wrap(error, key);
      }
    },
  });

  return {
    provider,
    maxInFlight,
    leaseMs,
    key(tenantId) {
      assertTenantId(tenantId);
      return keyOf(tenantId);
    },
    async acquire(tenantId) {
      assertTenantId(tenantId);
      const key = keyOf(tenantId);
      const id = `${processTag}-${++leaseCounter}`;
      let taken: LeaseTake;
      try {
        taken = await leases.take(redis, key, id, maxInFlight, leaseMs);
      } catch (error) {
        if (failOpen && isConnectionError(error)) return { acquired: true, lease: makeLease(id, key, false), inFlight: 1, retryAfterMs: 0 };
        return wrap(error, key);
      }
      if (taken.taken) return { acquired: true, lease: makeLease(id, key, true), inFlight: taken.live, retryAfterMs: 0 };
      return { acquired: false, lease: undefined, inFlight: taken.live, retryAfterMs: Math.max(1, Math.min(taken.waitMs, retryAfterMs)) };
    },
    async inFlight(tenantId) {
      assertTenantId(tenantId);
      const key = keyOf(tenantId);
      try {
        return await leases.count(redis, key);
      } catch (error) {
        return wrap(error, key);
      }
    },
    async reset(tenantId) {
      assertTenantId(tenantId);
      const key = keyOf(tenantId);
      try {
        await resetKeyScript.run(redis, [key], []);
      } catch (error) {
        wrap(error, key);
      }
    },
  };
}

/**
 * Runs `fn(lease)` holding a slot of the concurrency limiter, and releases the slot afterwards
 * (if the release cannot reach Redis, the lease still expires after `leaseMs`). Throws
 * {@link ConcurrencyLimitError} without calling `fn` when no slot is free; inside a
 * `createWorker` handler that delays the job without spending an attempt.
 *
 * @example
 * const page = await withConcurrencyLimit(browser, tenantId, () => render(url));
 */
export async function withConcurrencyLimit<T>(
  limiter: ConcurrencyLimiter,
  tenantId: string,
  fn: (lease: Lease) => T | Promise<T>,
): Promise<T> {
  const result = await limiter.acquire(tenantId);
  if (!result.acquired) {
    throw new ConcurrencyLimitError({
      tenantId,
      provider: limiter.provider,
      maxInFlight: limiter.maxInFlight,
      key: limiter.key(tenantId),
      retryAfterMs: result.retryAfterMs,
    });
  }
  try {
    return await fn(result.lease);
  } finally {
    // A lost release only delays the slot's return until the lease expires.
    await result.lease.release().catch(() => false);
  }
}
