import { resolveKeyPrefix } from '@platform/redis';
import type { LockClient } from './client';
import { LockNotAcquiredError } from './errors';
import { runAcquired } from './hold';
import { activityLockKey } from './keys';
import { tryAcquireLock, type Lock } from './lock';
import { checkHoldOptions, defaultLockOptions, type WithLockOptions } from './options';

/**
 * The work run under a lock: `signal` fires (with a {@link LockLostError} as reason) if the lock is
 * lost; `lock` is the held {@link Lock}, whose `fence` the work passes to the store it writes to.
 */
export type LockedFn<T> = (signal: AbortSignal, lock: Lock) => Promise<T> | T;

/**
 * Runs `fn(signal, lock)` while holding the lock `key`: acquires it (waiting up to `waitMs`), renews
 * it while `fn` runs (`autoExtend`, every `ttlMs / 3`), and releases it in `finally`.
 *
 * @returns what `fn` returns.
 * @throws {@link LockNotAcquiredError} when the lock stayed busy for `waitMs` (`fn` did not run; a
 * deferral with `delayJobWhenBusy`); {@link LockLostError} when the lock was lost while `fn` ran (the
 * signal fired); {@link LockUnavailableError} when Redis cannot be reached; whatever `fn` throws.
 * @example
 * await withLock(redis, 'lock:report:2024-06', async (signal, lock) => {
 *   await reports.save(await buildReport({ signal }), { fence: lock.fence });
 * }, { ttlMs: 15_000, waitMs: 5_000 });
 */
export async function withLock<T>(redis: LockClient, key: string, fn: LockedFn<T>, options: WithLockOptions): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('withLock: fn must be a function');
  checkHoldOptions(options);
  // The caller gave up already: nothing to run, nothing to take.
  if (options.signal?.aborted) throw options.signal.reason;
  return runAcquired(await tryAcquireLock(redis, key, options, options.signal), fn, options, (details) => new LockNotAcquiredError(key, details));
}

/** Options of {@link activityLock}: those of {@link withLock}, with `ttlMs` optional. */
export type ActivityLockOptions = Omit<WithLockOptions, 'ttlMs'> & {
  /** @defaultValue `30000` */
  ttlMs?: number;
  /**
   * The key prefix in front of `lock:activity:<activityId>` (`''` for none).
   * @defaultValue `REDIS_KEY_PREFIX` (empty: the key is exactly `lock:activity:<activityId>`)
   */
  keyPrefix?: string;
};

/**
 * {@link withLock} on `lock:activity:<activityId>` (built with `redisKey`, behind the key prefix),
 * so that two workers never process the same activity at once. `fn(signal, lock)` as in `withLock`.
 */
export function activityLock<T>(redis: LockClient, activityId: string, fn: LockedFn<T>, options: ActivityLockOptions = {}): Promise<T> {
  const { keyPrefix, ...lockOptions } = options;
  const key = activityLockKey(activityId, resolveKeyPrefix(keyPrefix));
  return withLock(redis, key, fn, { ...lockOptions, ttlMs: options.ttlMs ?? defaultLockOptions.activityTtlMs });
}

/**
 * Wraps a job handler so it runs under the job's activity lock. When the lock is busy (after
 * `waitMs`, default 0) it throws a {@link LockNotAcquiredError} that is a deferral (`delayJob: true`,
 * `deferralReason: 'lock-busy'`, `retryAfterMs`: the holder's remaining TTL, at most
 * `maxRetryAfterMs`, plus jitter): `@platform/queue`'s `createWorker` then delays the job by that
 * much without spending an attempt. The handler gets the lock's signal and the {@link Lock} (for its
 * `fence`) as third and fourth arguments. When the context has a `signal` (a queue job's, which fires at
 * its time limits) and `options.signal` is not given, the lock is linked to it: released when it fires. Works with any `(job, ctx) => Promise` handler; this
 * package does not import queue. Annotate the job type of `activityIdOf`: TypeScript cannot infer it
 * through `createWorker`.
 *
 * @example
 * createWorker(agentQueue('writer'), activityLockHandler(redis, (job: Job<AgentPayload>) => job.data.activityId,
 *   async (job, ctx, signal, lock) => runAgent(job.data, { signal, fence: lock.fence })));
 */
export function activityLockHandler<J, C, R>(
  redis: LockClient,
  activityIdOf: (job: J) => string,
  handler: (job: J, context: C, signal: AbortSignal, lock: Lock) => Promise<R>,
  options: ActivityLockOptions = {},
): (job: J, context: C) => Promise<R> {
  const lockOptions = { ...options, delayJobWhenBusy: options.delayJobWhenBusy ?? true };
  return (job, context) =>
    activityLock(redis, activityIdOf(job), (signal, lock) => handler(job, context, signal, lock), {
      ...lockOptions,
      signal: options.signal ?? signalOf(context),
    });
}

/** The `signal` of a handler context (`@platform/queue`'s `JobContext`), if it has one. */
function signalOf(context: unknown): AbortSignal | undefined {
  const signal = typeof context === 'object' && context !== null ? (context as { signal?: unknown }).signal : undefined;
  return signal instanceof AbortSignal ? signal : undefined;
}
