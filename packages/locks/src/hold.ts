import { checkMs } from '@platform/redis';
import { LockLostError, type NotAcquiredDetails } from './errors';
import { busyDetails, defaultLockOptions, type WithLockOptions } from './options';

/** What {@link runHeld} needs of a lock or a semaphore lease. */
export interface Held {
  readonly key: string;
  readonly ttlMs: number;
  /** `performance.now()` before the acquiring request was sent. */
  readonly acquiredAt: number;
  extend(ttlMs: number): Promise<boolean>;
  release(): Promise<boolean>;
}

export interface HoldOptions {
  autoExtend: boolean;
  extendIntervalMs: number | undefined;
  /** The caller's signal: when it aborts, `fn`'s signal aborts and the lock is released at once. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `fn(signal, held)` while `held` is held: renews it every `extendIntervalMs` (default ttl/3), fires
 * the signal with a {@link LockLostError} when an extension is refused or when no extension has
 * succeeded by the time the TTL runs out (counted from before each request was sent, so never late),
 * and always releases in the end.
 */
export async function runHeld<T, H extends Held>(
  held: H,
  fn: (signal: AbortSignal, held: H) => Promise<T> | T,
  options: HoldOptions,
): Promise<T> {
  const ttlMs = held.ttlMs;
  const interval =
    options.extendIntervalMs === undefined
      ? Math.max(1, Math.floor(ttlMs / 3))
      : checkMs('extendIntervalMs', options.extendIntervalMs, 1);
  if (options.signal?.aborted) {
    // The caller gave up while `held` was being acquired: fn must not run without it.
    await held.release().catch(() => undefined);
    throw options.signal.reason;
  }
  const controller = new AbortController();
  let lost: LockLostError | undefined;
  let stopped = false;
  // Fire a little before Redis expires the key: timers run late and clocks drift (as redlock does).
  const margin = Math.min(Math.floor(ttlMs / 10), 2 + Math.floor(ttlMs / 100));
  let validUntil = held.acquiredAt + ttlMs - margin;
  let expiryTimer: NodeJS.Timeout | undefined;
  let extendTimer: NodeJS.Timeout | undefined;
  let lastError: unknown;

  const lose = (reason: 'not-owner' | 'expired') => {
    if (lost || stopped) return;
    lost = new LockLostError(held.key, reason, lastError === undefined ? undefined : { cause: lastError });
    clearTimeout(expiryTimer);
    clearTimeout(extendTimer);
    controller.abort(lost);
  };
  const armExpiry = () => {
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => lose('expired'), Math.max(0, validUntil - performance.now()));
  };
  const extendNow = async () => {
    if (stopped || lost) return;
    const sentAt = performance.now();
    try {
      const ok = await held.extend(ttlMs);
      if (stopped || lost) return;
      if (!ok) {
        lose('not-owner');
        return;
      }
      lastError = undefined;
      validUntil = sentAt + ttlMs - margin;
      armExpiry();
      extendTimer = setTimeout(extendNow, interval);
    } catch (error) {
      if (stopped || lost) return;
      // Redis unreachable: keep trying, faster, until the TTL runs out (then the expiry timer fires).
      lastError = error;
      const left = validUntil - performance.now();
      extendTimer = setTimeout(extendNow, Math.max(1, Math.min(interval, left / 4)));
    }
  };

  // The caller gave up (e.g. a job's time limit): release now, even if fn never settles.
  let releasing: Promise<boolean> | undefined;
  let cancelled = false;
  const release = (): Promise<boolean> => (releasing ??= held.release());
  const onCallerAbort = () => {
    if (stopped || lost) return;
    cancelled = true;
    stopped = true;
    clearTimeout(expiryTimer);
    clearTimeout(extendTimer);
    controller.abort(options.signal?.reason);
    void release().catch(() => undefined);
  };

  armExpiry();
  if (options.autoExtend) extendTimer = setTimeout(extendNow, interval);
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });

  let value: T | undefined;
  let failed = false;
  let failure: unknown;
  try {
    value = await fn(controller.signal, held);
  } catch (error) {
    failed = true;
    failure = error;
  }
  stopped = true;
  clearTimeout(expiryTimer);
  clearTimeout(extendTimer);
  options.signal?.removeEventListener('abort', onCallerAbort);

  let released = true;
  try {
    released = await release();
  } catch {
    // Redis unreachable: the key expires by its TTL; the work itself is done.
  }
  if (lost) throw lost;
  if (failed) throw failure;
  // Released early because the caller asked (fn's signal said so): fn's own outcome stands.
  if (cancelled) return value as T;
  // Nobody noticed a loss while fn ran, but the key was gone or someone else's at the end.
  if (!released) throw new LockLostError(held.key, 'not-owner');
  return value as T;
}

/**
 * `fn(signal, held)` under `acquired` (see {@link runHeld}), or, when `acquired` is the ms until the
 * holder's TTL runs out, `refuse(details)` thrown with the retry hint of the options.
 */
export async function runAcquired<T, H extends Held>(
  acquired: H | number,
  fn: (signal: AbortSignal, held: H) => Promise<T> | T,
  options: Pick<WithLockOptions, 'autoExtend' | 'extendIntervalMs' | 'retryDelayMs' | 'retryJitterMs' | 'maxRetryAfterMs' | 'delayJobWhenBusy' | 'signal'>,
  refuse: (details: NotAcquiredDetails) => Error,
): Promise<T> {
  if (typeof acquired === 'number') {
    // Waiting stopped because the caller gave up, not because the lock stayed busy.
    if (options.signal?.aborted) throw options.signal.reason;
    throw refuse(busyDetails(acquired, options));
  }
  return runHeld(acquired, fn, {
    autoExtend: options.autoExtend ?? defaultLockOptions.autoExtend,
    extendIntervalMs: options.extendIntervalMs,
    signal: options.signal,
  });
}
