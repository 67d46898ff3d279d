import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, checkMs, describeValue } from '@platform/redis';
import type { LockClient } from './client';
import { orUnavailable } from './errors';
import { fenceKeyFor, releaseChannelFor, waitersKeyFor } from './keys';
import { checkKey, checkOptions, defaultLockOptions, type AcquireLockOptions } from './options';
import { acquireLockBatched, acquireLockScript, extendLockScript, handOverLockScript, releaseLockBatched } from './scripts';
import { existingSubscriberOf, releaseSeq, waitForRelease, type HandoffOffer } from './waiters';
import { spanEvent } from '@platform/telemetry';

/**
 * A lock held by this caller. Release it in `finally` (or use {@link withLock}, which does).
 * `release()` and `extend()` resolve `false` when the lock is no longer owned (expired, deleted or
 * taken over); they reject only when Redis cannot be reached, with a {@link LockUnavailableError}.
 */
export class Lock {
  /** The Redis key of the lock, exactly as given. */
  readonly key: string;
  /**
   * Fencing token: strictly greater than that of every earlier fenced acquisition of this key. Pass
   * it to the store you write to, and have the store refuse writes with a smaller token than it has
   * seen. `0` when the lock was acquired with `fencing: false`.
   */
  readonly fence: number;
  /** The random owner token stored in the key. */
  readonly token: string;
  /** The TTL the lock was acquired with, in ms (also the default of {@link Lock.extend}). */
  readonly ttlMs: number;
  /** `performance.now()` just before the acquiring request was sent: the lock is valid until at least this + `ttlMs`. */
  readonly acquiredAt: number;
  private readonly redis: LockClient;
  private readonly fenceKey: string;

  /** @internal Use {@link acquireLock}. */
  constructor(redis: LockClient, key: string, fenceKey: string, token: string, fence: number, ttlMs: number, acquiredAt: number) {
    this.redis = redis;
    this.key = key;
    this.fenceKey = fenceKey;
    this.token = token;
    this.fence = fence;
    this.ttlMs = ttlMs;
    this.acquiredAt = acquiredAt;
  }

  /**
   * Gives the lock up if this caller still owns it: hands it straight to a waiter of this process
   * on the same client (one round trip for release plus acquire), or deletes it and wakes waiters elsewhere
   * (a `PUBLISH` only when some process has registered waiters for the key).
   * @returns whether it did (`false`: it was not owned any more; nothing was changed).
   */
  async release(): Promise<boolean> {
    return orUnavailable(this.key, this.releaseOrHandOver());
  }

  private async releaseOrHandOver(): Promise<boolean> {
    const channel = releaseChannelFor(this.key);
    const next = existingSubscriberOf(this.redis)?.reserveForHandoff(channel);
    if (!next?.offer) {
      return (await releaseLockBatched.run(this.redis, [this.key, waitersKeyFor(this.key)], [this.token, channel])) === 1;
    }
    const { token, ttlMs, fenceTtlMs } = next.offer;
    const sentAt = performance.now();
    let fence: number;
    try {
      fence = await handOverLockScript.run(this.redis, [this.key, this.fenceKey], [this.token, token, ttlMs, fenceTtlMs]);
    } catch (error) {
      // Unknown outcome: the waiter keeps trying; a hand-over that did happen expires by its TTL.
      next.cancelHandoff();
      throw error;
    }
    if (fence > 0) next.completeHandoff(fence, sentAt);
    else next.cancelHandoff();
    return fence > 0;
  }

  /**
   * Sets the lock's TTL to `ttlMs` from now, if this caller still owns it.
   * @param ttlMs - @defaultValue the TTL it was acquired with
   * @returns whether it did (`false`: the lock was lost and must not be relied on any more).
   */
  async extend(ttlMs: number = this.ttlMs): Promise<boolean> {
    checkMs('ttlMs', ttlMs, 1);
    return (await orUnavailable(this.key, extendLockScript.run(this.redis, [this.key], [this.token, ttlMs]))) === 1;
  }
}

/**
 * @internal The lock, or the ms until the holder's TTL runs out. A connection failure rejects with
 * a {@link LockUnavailableError}. Waiting stops when `signal` aborts.
 */
export function tryAcquireLock(redis: LockClient, key: string, options: AcquireLockOptions, signal?: AbortSignal): Promise<Lock | number> {
  return orUnavailable(key, acquire(redis, key, options, signal));
}

async function acquire(redis: LockClient, key: string, options: AcquireLockOptions, signal: AbortSignal | undefined): Promise<Lock | number> {
  checkKey(key);
  checkOptions(options);
  const ttlMs = checkMs('ttlMs', options.ttlMs, 1);
  const waitMs = options.waitMs === undefined ? defaultLockOptions.waitMs : checkMs('waitMs', options.waitMs, 0);
  const fencing = options.fencing ?? defaultLockOptions.fencing;
  if (typeof fencing !== 'boolean') throw new InvalidArgumentError('fencing', `must be a boolean, got ${describeValue(fencing)}`);
  // 0 tells the scripts to issue no fencing token.
  const fenceTtlMs = !fencing
    ? 0
    : options.fenceTtlMs === undefined
      ? defaultLockOptions.fenceTtlMs
      : checkMs('fenceTtlMs', options.fenceTtlMs, ttlMs);
  const retryDelayMs =
    options.retryDelayMs === undefined ? defaultLockOptions.retryDelayMs : checkMs('retryDelayMs', options.retryDelayMs, 1);
  const fenceKey = fenceKeyFor(key);
  const keys = [key, fenceKey];
  const token = randomUUID();
  const args = [token, ttlMs, fenceTtlMs];

  if (waitMs === 0) {
    const sentAt = performance.now();
    // Batched: the acquisitions of one event-loop turn on this client share one script call.
    const code = await acquireLockBatched.run(redis, keys, args);
    return code > 0 ? new Lock(redis, key, fenceKey, token, fencing ? code : 0, ttlMs, sentAt) : -code - 1;
  }
  const channel = releaseChannelFor(key);
  const seqBefore = releaseSeq(redis, channel);
  const offer: HandoffOffer = { token, ttlMs, fenceTtlMs, acquiredAt: performance.now() };
  // Waiters of this process already queue for the key: join them rather than barge in. The lock is
  // handed over in turn (or a release wakes the queue), and a futile round trip is saved.
  let code = existingSubscriberOf(redis)?.hasWaiters(channel) ? -1 : await acquireLockBatched.run(redis, keys, args);
  if (code <= 0) {
    const attempt = () => {
      offer.acquiredAt = performance.now();
      return acquireLockScript.run(redis, keys, args);
    };
    const waitStart = performance.now();
    const lockWaiting = { waitersKey: waitersKeyFor(key), offer };
    code = await waitForRelease(redis, channel, attempt, code, waitMs, retryDelayMs, seqBefore, lockWaiting, signal);
    spanEvent('lock.wait', { 'lock.waited_ms': Math.round(performance.now() - waitStart), 'lock.acquired': code > 0 });
  }
  return code > 0 ? new Lock(redis, key, fenceKey, token, fencing ? code : 0, ttlMs, offer.acquiredAt) : -code - 1;
}

/**
 * Acquires the lock `key` (the Redis key, stored as given): `SET NX PX` with a random owner token and
 * a fencing token, in one script and one round trip. With `waitMs`, waits for the holder to release
 * (woken by Pub/Sub, at the holder's expiry, or by a jittered fallback poll).
 *
 * @returns the {@link Lock}, or `null` if it was still held by someone else after `waitMs`.
 * @throws InvalidArgumentError for bad options (before anything touches Redis);
 * {@link LockUnavailableError} when Redis cannot be reached (as fast as the client gives up: a
 * `producer` connection of `createRedisConnection` within its `commandTimeoutMs`, default 5 s).
 * @example
 * const lock = await acquireLock(redis, 'lock:invoice:42', { ttlMs: 10_000, waitMs: 2_000 });
 * if (lock) {
 *   try { await store.write(data, { fence: lock.fence }); } finally { await lock.release(); }
 * }
 */
export async function acquireLock(redis: LockClient, key: string, options: AcquireLockOptions): Promise<Lock | null> {
  const result = await tryAcquireLock(redis, key, options);
  return typeof result === 'number' ? null : result;
}
