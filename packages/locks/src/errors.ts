import {
  PlatformError,
  RedisUnavailableError,
  describeValue,
  toUnavailableError,
  type DeferralReason,
  type PlatformErrorOptions,
} from '@platform/redis';

/** Details carried by {@link LockNotAcquiredError} and {@link SemaphoreNotAcquiredError}. */
export interface NotAcquiredDetails extends PlatformErrorOptions {
  /** A good moment to try again, in ms: the holder's remaining TTL plus jitter. */
  retryAfterMs: number;
  /**
   * `true` makes the error a deferral (see `isDeferral` of `@platform/redis`): a worker delays the
   * job by `retryAfterMs` without spending an attempt (set by {@link activityLockHandler} and the
   * `delayJobWhenBusy` option).
   */
  delayJob?: boolean;
}

/** What {@link LockNotAcquiredError} and {@link SemaphoreNotAcquiredError} share. */
abstract class NotAcquiredError extends PlatformError {
  /** The lock or semaphore key. */
  readonly key: string;
  /** When trying again makes sense, in ms (the holder's remaining TTL, or until the earliest lease expires, plus jitter). */
  readonly retryAfterMs: number;
  /** `true` when this error is a deferral: a worker delays the job by `retryAfterMs` instead of failing it. */
  readonly delayJob: boolean;
  /** Why a deferred job waits: another holder has the lock or every slot. */
  readonly deferralReason: DeferralReason = 'lock-busy';

  protected constructor(code: 'LOCK_NOT_ACQUIRED' | 'SEMAPHORE_NOT_ACQUIRED', key: string, message: string, details: NotAcquiredDetails) {
    super(code, `${message}; retry in ${details.retryAfterMs} ms`, details);
    this.key = key;
    this.retryAfterMs = details.retryAfterMs;
    this.delayJob = details.delayJob ?? false;
  }
}

/** The lock was held by someone else for the whole `waitMs`. Nothing ran. */
export class LockNotAcquiredError extends NotAcquiredError {
  constructor(key: string, details: NotAcquiredDetails) {
    super('LOCK_NOT_ACQUIRED', key, `lock ${key} is held by someone else`, details);
  }
}

/** Every slot of the semaphore was taken for the whole `waitMs`. Nothing ran. */
export class SemaphoreNotAcquiredError extends NotAcquiredError {
  constructor(key: string, details: NotAcquiredDetails) {
    super('SEMAPHORE_NOT_ACQUIRED', key, `semaphore ${key} has no free slot`, details);
  }
}

/** Why a held lock or lease was lost. */
export type LockLostReason =
  /** An extension (or the final release) found another owner or no key: expired, deleted or taken over. */
  | 'not-owner'
  /** Not renewed before its TTL ran out (no auto-extension, a blocked event loop, or Redis unreachable). */
  | 'expired';

/**
 * The lock (or semaphore lease) was lost while `fn` ran, so the critical section was not
 * protected throughout. The `AbortSignal` given to `fn` fired with this error as its reason.
 */
export class LockLostError extends PlatformError {
  /** The lock or semaphore key. */
  readonly key: string;
  /** What happened. */
  readonly reason: LockLostReason;

  constructor(key: string, reason: LockLostReason, options?: PlatformErrorOptions) {
    super(
      'LOCK_LOST',
      reason === 'expired'
        ? `lock ${key} expired before it could be renewed`
        : `lock ${key} is no longer owned by this holder (expired, deleted or taken over)`,
      options,
    );
    this.key = key;
    this.reason = reason;
  }
}

/**
 * Redis could not be reached (or did not answer within the client's command timeout), so the lock
 * or semaphore operation could not be done. A subclass of `RedisUnavailableError` (code
 * `REDIS_UNAVAILABLE`). Fails as fast as the client does: with a `producer` connection of
 * `createRedisConnection`, within its `commandTimeoutMs` (default 5 s).
 */
export class LockUnavailableError extends RedisUnavailableError {
  /** The lock or semaphore key. */
  readonly key: string;

  constructor(key: string, message: string, options?: PlatformErrorOptions) {
    super(message, options);
    this.key = key;
  }
}

/**
 * `promise`, with a Redis connection failure turned into a {@link LockUnavailableError} for `key`
 * (other errors pass through as they are).
 */
export async function orUnavailable<T>(key: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    // `key` is whatever the caller passed, refused inside `promise` when it is not a string: quoted
    // with describeValue then (a template literal throws a TypeError for an object without a
    // usable toString, which would hide the typed error).
    const label = typeof key === 'string' ? key : describeValue(key);
    throw toUnavailableError(error, `lock ${label}`, (message, cause) => new LockUnavailableError(label, message, { cause }));
  }
}
