import { randomUUID } from 'node:crypto';
import { checkInteger, checkMs, leases } from '@platform/redis';
import type { LockClient } from './client';
import { orUnavailable, SemaphoreNotAcquiredError } from './errors';
import { runAcquired } from './hold';
import { releaseChannelFor } from './keys';
import { checkHoldOptions, checkKey, checkOptions, defaultLockOptions, type AcquireSemaphoreOptions, type WithSemaphoreOptions } from './options';
import { releaseSeq, waitForRelease } from './waiters';

/**
 * The work run under a semaphore lease: `signal` fires (with a {@link LockLostError} as reason) if
 * the lease is lost; `lease` is the held {@link SemaphoreLease}.
 */
export type LeasedFn<T> = (signal: AbortSignal, lease: SemaphoreLease) => Promise<T> | T;

/**
 * One slot of a counting semaphore (an expiring lease of `@platform/redis`'s `leases`), held by this
 * caller until released or expired. `release()` and `extend()` resolve `false` when the lease is no
 * longer held; they reject only when Redis cannot be reached, with a {@link LockUnavailableError}.
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
  private readonly redis: LockClient;

  /** @internal Use {@link acquireSemaphore}. */
  constructor(redis: LockClient, key: string, id: string, ttlMs: number, acquiredAt: number) {
    this.redis = redis;
    this.key = key;
    this.id = id;
    this.ttlMs = ttlMs;
    this.acquiredAt = acquiredAt;
  }

  /** Frees the slot if this lease still holds it, and wakes a waiter. @returns whether it did. */
  async release(): Promise<boolean> {
    return orUnavailable(this.key, leases.release(this.redis, this.key, this.id, releaseChannelFor(this.key)));
  }

  /**
   * Moves the lease's expiry to `ttlMs` from now, if it is still held.
   * @param ttlMs - @defaultValue the TTL it was taken with
   */
  async extend(ttlMs: number = this.ttlMs): Promise<boolean> {
    checkMs('ttlMs', ttlMs, 1);
    return orUnavailable(this.key, leases.refresh(this.redis, this.key, this.id, ttlMs));
  }
}

function tryAcquireSemaphore(redis: LockClient, key: string, options: AcquireSemaphoreOptions): Promise<SemaphoreLease | number> {
  return orUnavailable(key, acquire(redis, key, options));
}

async function acquire(redis: LockClient, key: string, options: AcquireSemaphoreOptions): Promise<SemaphoreLease | number> {
  checkKey(key);
  checkOptions(options);
  const limit = checkInteger('limit', options.limit, 1);
  const ttlMs = checkMs('ttlMs', options.ttlMs, 1);
  const waitMs = options.waitMs === undefined ? defaultLockOptions.waitMs : checkMs('waitMs', options.waitMs, 0);
  const retryDelayMs =
    options.retryDelayMs === undefined ? defaultLockOptions.retryDelayMs : checkMs('retryDelayMs', options.retryDelayMs, 1);
  const id = randomUUID();
  // The waiters' code: > 0 taken, else -1 - ms until the earliest lease expires.
  const take = async () => {
    const result = await leases.take(redis, key, id, limit, ttlMs);
    return result.taken ? 1 : -1 - result.waitMs;
  };

  const channel = releaseChannelFor(key);
  const seqBefore = waitMs > 0 ? releaseSeq(redis, channel) : -1;
  let sentAt = performance.now();
  let code = await take();
  if (code <= 0 && waitMs > 0) {
    const attempt = () => {
      sentAt = performance.now();
      return take();
    };
    code = await waitForRelease(redis, channel, attempt, code, waitMs, retryDelayMs, seqBefore);
  }
  return code > 0 ? new SemaphoreLease(redis, key, id, ttlMs, sentAt) : -code - 1;
}

/**
 * Takes one of `limit` slots of the counting semaphore `key`. Leases expire after `ttlMs` unless
 * extended, so a crashed holder never leaks a slot; expired leases are dropped by the acquiring
 * script itself (time from the Redis clock). One script, one round trip.
 * @throws InvalidArgumentError for bad options (before anything touches Redis);
 * {@link LockUnavailableError} when Redis cannot be reached.
 *
 * @returns the {@link SemaphoreLease}, or `null` if no slot freed up within `waitMs`.
 * @example
 * const lease = await acquireSemaphore(redis, 'sem:openai', { limit: 5, ttlMs: 30_000, waitMs: 10_000 });
 * if (lease) { try { await callOpenAI(); } finally { await lease.release(); } }
 */
export async function acquireSemaphore(redis: LockClient, key: string, options: AcquireSemaphoreOptions): Promise<SemaphoreLease | null> {
  const result = await tryAcquireSemaphore(redis, key, options);
  return typeof result === 'number' ? null : result;
}

/**
 * Runs `fn(signal, lease)` while holding a slot of the semaphore `key`, renewing the lease while it
 * runs and releasing it in `finally` (like {@link withLock}).
 *
 * @throws {@link SemaphoreNotAcquiredError} when no slot freed up within `waitMs` (a deferral with
 * `delayJobWhenBusy`); {@link LockLostError} when the lease was lost while `fn` ran;
 * {@link LockUnavailableError} when Redis cannot be reached; whatever `fn` throws.
 */
export async function withSemaphore<T>(redis: LockClient, key: string, fn: LeasedFn<T>, options: WithSemaphoreOptions): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('withSemaphore: fn must be a function');
  checkHoldOptions(options);
  return runAcquired(await tryAcquireSemaphore(redis, key, options), fn, options, (details) => new SemaphoreNotAcquiredError(key, details));
}
