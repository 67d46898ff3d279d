import { PlatformError, type PlatformErrorOptions } from '@platform/redis';

/** Details carried by {@link LockNotAcquiredError} and {@link SemaphoreNotAcquiredError}. */
export interface NotAcquiredDetails extends PlatformErrorOptions {
  /** A good moment to try again, in ms: the holder's remaining TTL plus jitter. */
  retryAfterMs: number;
  /**
   * `true` asks `@platform/queue`'s `createWorker` to delay the job by `retryAfterMs` without
   * spending an attempt (set by {@link activityLockHandler} and the `delayJobWhenBusy` option).
   */
  delayJob?: boolean;
}

/** The lock was held by someone else for the whole `waitMs`. Nothing ran. */
export class LockNotAcquiredError extends PlatformError {
  /** The lock key. */
  readonly key: string;
  /** When trying again makes sense, in ms (the holder's remaining TTL plus jitter). */
  readonly retryAfterMs: number;
  /** Whether a `createWorker` job should be delayed (not failed) by `retryAfterMs`. */
  readonly delayJob: boolean;

  constructor(key: string, details: NotAcquiredDetails) {
    super('LOCK_NOT_ACQUIRED', `lock ${key} is held by someone else; retry in ${details.retryAfterMs} ms`, details);
    this.key = key;
    this.retryAfterMs = details.retryAfterMs;
    this.delayJob = details.delayJob ?? false;
  }
}

/** Every slot of the semaphore was taken for the whole `waitMs`. Nothing ran. */
export class SemaphoreNotAcquiredError extends PlatformError {
  /** The semaphore key. */
  readonly key: string;
  /** When trying again makes sense, in ms (until the earliest lease expires, plus jitter). */
  readonly retryAfterMs: number;
  /** Whether a `createWorker` job should be delayed (not failed) by `retryAfterMs`. */
  readonly delayJob: boolean;

  constructor(key: string, details: NotAcquiredDetails) {
    super('SEMAPHORE_NOT_ACQUIRED', `semaphore ${key} has no free slot; retry in ${details.retryAfterMs} ms`, details);
    this.key = key;
    this.retryAfterMs = details.retryAfterMs;
    this.delayJob = details.delayJob ?? false;
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
