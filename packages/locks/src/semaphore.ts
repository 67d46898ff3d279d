import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, describeValue } from '@platform/redis';
import type { Redis } from 'ioredis';
import { SemaphoreNotAcquiredError } from './errors';
import { runHeld } from './hold';
import { releaseChannelFor } from './keys';
import {
  busyDetails,
  checkKey,
  checkMs,
  checkOptions,
  defaultLockOptions,
  type AcquireSemaphoreOptions,
  type WithSemaphoreOptions,
} from './options';
import { acquireSemaphoreScript, extendSemaphoreScript, releaseSemaphoreScript } from './scripts';
import { releaseSeq, waitForRelease } from './waiters';
import type { LockedFn } from './with-lock';

/**
 * One slot of a counting semaphore, held by this caller until released or expired.
 * `release()` and `extend()` resolve `false` when the lease is no longer held.
 */
export class SemaphoreLease {
  /** The semaphore's Redis key (a sorted set of leases scored by expiry). */
  readonly key: string;
  /** This lease's random id (its member in the set). */
  readonly id: string;
  /** The TTL the lease was taken with, in ms (also the default of {@link SemaphoreLease.extend}). */
  readonly ttlMs: number;
  /** `performance.now()` just before the acquiring request was sent. */
  readonly acquiredAt: number;
  private readonly redis: Redis;

  /** @internal Use {@link acquireSemaphore}. */
  constructor(redis: Redis, key: string, id: string, ttlMs: number, acquiredAt: number) {
    this.redis = redis;
    this.key = key;
    this.id = id;
    this.ttlMs = ttlMs;
    this.acquiredAt = acquiredAt;
  }

  /** Frees the slot if this lease still holds it, and wakes a waiter. @returns whether it did. */
  async release(): Promise<boolean> {
    return (await releaseSemaphoreScript.run(this.redis, [this.key], [this.id, releaseChannelFor(this.key)])) === 1;
  }

  /**
   * Moves the lease's expiry to `ttlMs` from now, if it is still held.
   * @param ttlMs - @defaultValue the TTL it was taken with
   */
  async extend(ttlMs: number = this.ttlMs): Promise<boolean> {
    checkMs('ttlMs', ttlMs, 1);
    return (await extendSemaphoreScript.run(this.redis, [this.key], [this.id, ttlMs])) === 1;
  }
}

async function tryAcquireSemaphore(redis: Redis, key: string, options: AcquireSemaphoreOptions): Promise<SemaphoreLease | number> {
  checkKey(key);
  checkOptions(options);
  const { limit } = options;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new InvalidArgumentError('limit', `must be a positive integer, got ${describeValue(limit)}`);
  }
  const ttlMs = checkMs('ttlMs', options.ttlMs, 1);
  const waitMs = options.waitMs === undefined ? defaultLockOptions.waitMs : checkMs('waitMs', options.waitMs, 0);
  const retryDelayMs =
    options.retryDelayMs === undefined ? defaultLockOptions.retryDelayMs : checkMs('retryDelayMs', options.retryDelayMs, 1);
  const id = randomUUID();
  const keys = [key];
  const args = [id, limit, ttlMs];

  const channel = releaseChannelFor(key);
  const seqBefore = waitMs > 0 ? releaseSeq(redis, channel) : -1;
  let sentAt = performance.now();
  let code = await acquireSemaphoreScript.run(redis, keys, args);
  if (code <= 0 && waitMs > 0) {
    const attempt = () => {
      sentAt = performance.now();
      return acquireSemaphoreScript.run(redis, keys, args);
    };
    code = await waitForRelease(redis, channel, attempt, code, waitMs, retryDelayMs, seqBefore);
  }
  return code > 0 ? new SemaphoreLease(redis, key, id, ttlMs, sentAt) : -code - 1;
}

/**
 * Takes one of `limit` slots of the counting semaphore `key`. Leases expire after `ttlMs` unless
 * extended, so a crashed holder never leaks a slot; expired leases are dropped by the acquiring
 * script itself (time from the Redis clock). One script, one round trip.
 *
 * @returns the {@link SemaphoreLease}, or `null` if no slot freed up within `waitMs`.
 * @example
 * const lease = await acquireSemaphore(redis, 'sem:openai', { limit: 5, ttlMs: 30_000, waitMs: 10_000 });
 * if (lease) { try { await callOpenAI(); } finally { await lease.release(); } }
 */
export async function acquireSemaphore(redis: Redis, key: string, options: AcquireSemaphoreOptions): Promise<SemaphoreLease | null> {
  const result = await tryAcquireSemaphore(redis, key, options);
  return typeof result === 'number' ? null : result;
}

/**
 * Runs `fn` while holding a slot of the semaphore `key`, renewing the lease while it runs and
 * releasing it in `finally` (like {@link withLock}).
 *
 * @throws {@link SemaphoreNotAcquiredError} when no slot freed up within `waitMs`;
 * {@link LockLostError} when the lease was lost while `fn` ran; whatever `fn` throws.
 */
export async function withSemaphore<T>(redis: Redis, key: string, fn: LockedFn<T>, options: WithSemaphoreOptions): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('withSemaphore: fn must be a function');
  const result = await tryAcquireSemaphore(redis, key, options);
  if (typeof result === 'number') throw new SemaphoreNotAcquiredError(key, busyDetails(result, options));
  return runHeld(result, fn, {
    autoExtend: options.autoExtend ?? defaultLockOptions.autoExtend,
    extendIntervalMs: options.extendIntervalMs,
  });
}
