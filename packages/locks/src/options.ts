import { InvalidArgumentError, checkMs, describeValue } from '@platform/redis';

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** How long the lock lives unless extended, in ms (a crashed holder's lock frees after this). */
  ttlMs: number;
  /** How long to wait for a held lock, in ms; `0` tries once. @defaultValue `0` */
  waitMs?: number;
  /**
   * Fallback poll interval while waiting, in ms (jittered ±50 %). Waiters normally wake at once on a
   * release (Pub/Sub) or when the holder's TTL runs out; polling only covers a missed message.
   * @defaultValue `100`
   */
  retryDelayMs?: number;
  /**
   * TTL of the fence counter key, in ms (at least `ttlMs`). Set when the counter is created and
   * refreshed by an acquisition only when less than half of it is left, or less than the lock's
   * `ttlMs`: so the counter always outlives the lock just granted, and lives at least half of this
   * after the last acquisition. Tokens keep growing even after it expires (a new counter starts at
   * the Redis clock in microseconds). @defaultValue `604800000` (7 days)
   */
  fenceTtlMs?: number;
  /**
   * Issue a fencing token with the lock. `false` skips the fence counter (one `SET NX PX` in the
   * acquiring script, nothing else): `lock.fence` is then `0`, so use it only where nothing checks
   * fences (a lock used for efficiency, not for correctness). Fenced acquisitions of the same key
   * keep strictly growing tokens either way. @defaultValue `true`
   */
  fencing?: boolean;
}

/** Options of {@link withLock} and {@link activityLock}. */
export interface WithLockOptions extends AcquireLockOptions {
  /**
   * Mark a {@link LockNotAcquiredError} as a deferral (`delayJob: true`, `deferralReason:
   * 'lock-busy'`), so that `@platform/queue`'s `createWorker` delays the job by `retryAfterMs`
   * without spending an attempt. @defaultValue `false` (`true` in {@link activityLockHandler})
   */
  delayJobWhenBusy?: boolean;
  /** Renew the lock while `fn` runs. Without it the signal fires when the TTL runs out. @defaultValue `true` */
  autoExtend?: boolean;
  /**
   * A signal of the caller (e.g. a job handler's `signal`, which fires at the job's time limits):
   * when it aborts, renewal stops, `fn`'s signal aborts with the same reason and the lock is released
   * at once, without waiting for `fn` to settle; `withLock` then returns (or throws) what `fn` does.
   * If it aborts before `fn` starts (already aborted, or while waiting for the lock), waiting stops,
   * `fn` does not run, nothing stays held and `withLock` rejects with the signal's reason.
   * @defaultValue none
   */
  signal?: AbortSignal;
  /** How often to renew, in ms. @defaultValue `ttlMs / 3` */
  extendIntervalMs?: number;
  /** Upper bound of the random jitter added to `retryAfterMs`, in ms. @defaultValue `250` */
  retryJitterMs?: number;
  /**
   * Cap on `retryAfterMs` before jitter. A held lock is renewed while its holder works, so its
   * remaining TTL says little about when it will be released: a busy job retries at least this
   * often. @defaultValue `1000`
   */
  maxRetryAfterMs?: number;
}

/** Options of {@link acquireSemaphore}. */
export interface AcquireSemaphoreOptions {
  /** Number of slots: at most this many leases are held at once. Every user of a key must agree on it. */
  limit: number;
  /** How long a lease lives unless extended, in ms (a crashed holder's slot frees after this). */
  ttlMs: number;
  /** How long to wait for a free slot, in ms; `0` tries once. @defaultValue `0` */
  waitMs?: number;
  /** Fallback poll interval while waiting, in ms (jittered ±50 %). @defaultValue `100` */
  retryDelayMs?: number;
}

/** Options of {@link withSemaphore}. */
export interface WithSemaphoreOptions extends AcquireSemaphoreOptions {
  /** Renew the lease while `fn` runs. @defaultValue `true` */
  autoExtend?: boolean;
  /** How often to renew, in ms. @defaultValue `ttlMs / 3` */
  extendIntervalMs?: number;
  /** Mark a {@link SemaphoreNotAcquiredError} with `delayJob: true` (see {@link WithLockOptions.delayJobWhenBusy}). @defaultValue `false` */
  delayJobWhenBusy?: boolean;
  /** Upper bound of the random jitter added to `retryAfterMs`, in ms. @defaultValue `250` */
  retryJitterMs?: number;
  /** Cap on `retryAfterMs` before jitter (see {@link WithLockOptions.maxRetryAfterMs}). @defaultValue `1000` */
  maxRetryAfterMs?: number;
}

/** The defaults of every optional setting, exported so callers can see and reuse them. */
export const defaultLockOptions = {
  waitMs: 0,
  retryDelayMs: 100,
  fenceTtlMs: 7 * 24 * 60 * 60 * 1000,
  fencing: true,
  autoExtend: true,
  delayJobWhenBusy: false,
  retryJitterMs: 250,
  maxRetryAfterMs: 1000,
  /** {@link activityLock}'s `ttlMs` when none is given. */
  activityTtlMs: 30_000,
} as const;

// Hand-written checks rather than a zod schema: they run on every acquisition (the hot path).
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError('key', 'must be a non-empty string');
  }
  return key;
}

export function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object with at least ttlMs');
  }
}

/**
 * Checks the options of {@link withLock} and {@link withSemaphore} that are only read once the lock
 * is held (or found busy), so that a bad one is refused before anything touches Redis instead of
 * after the lock was taken (which would leave it held until its TTL).
 * @throws InvalidArgumentError for a bad `extendIntervalMs`, `retryJitterMs`, `maxRetryAfterMs` or `signal`.
 */
export function checkHoldOptions(
  options: Pick<WithLockOptions, 'extendIntervalMs' | 'retryJitterMs' | 'maxRetryAfterMs' | 'signal'>,
): void {
  checkOptions(options);
  if (options.extendIntervalMs !== undefined) checkMs('extendIntervalMs', options.extendIntervalMs, 1);
  if (options.retryJitterMs !== undefined) checkMs('retryJitterMs', options.retryJitterMs, 0);
  if (options.maxRetryAfterMs !== undefined) checkMs('maxRetryAfterMs', options.maxRetryAfterMs, 0);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', `must be an AbortSignal, got ${describeValue(options.signal)}`);
  }
}

/** Jitter in [0, max). */
export function jitter(max: number): number {
  return Math.floor(Math.random() * max);
}

/**
 * What a caller that found the lock (or semaphore) busy is told: retry after the holder's remaining
 * TTL (`busyForMs`, or `retryDelayMs` when unknown), capped by `maxRetryAfterMs`, plus jitter.
 */
export function busyDetails(
  busyForMs: number,
  options: Pick<WithLockOptions, 'retryDelayMs' | 'retryJitterMs' | 'maxRetryAfterMs' | 'delayJobWhenBusy'>,
): { retryAfterMs: number; delayJob: boolean } {
  const jitterMs = options.retryJitterMs === undefined ? defaultLockOptions.retryJitterMs : checkMs('retryJitterMs', options.retryJitterMs, 0);
  const base = Math.min(
    busyForMs > 0 ? busyForMs : (options.retryDelayMs ?? defaultLockOptions.retryDelayMs),
    options.maxRetryAfterMs ?? defaultLockOptions.maxRetryAfterMs,
  );
  return { retryAfterMs: base + jitter(jitterMs), delayJob: options.delayJobWhenBusy ?? defaultLockOptions.delayJobWhenBusy };
}
