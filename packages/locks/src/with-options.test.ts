import { InvalidArgumentError } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, connectTestRedis } from '@platform/testing';
import { withLock } from './with-lock';
import { withSemaphore } from './semaphore';

const redis = connectTestRedis();
const prefix = uniquePrefix('lockopt');

afterAll(async () => {
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
});

describe('withLock and withSemaphore options', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['extendIntervalMs 0', { extendIntervalMs: 0 }],
    ['extendIntervalMs NaN', { extendIntervalMs: Number.NaN }],
    ['maxRetryAfterMs -1', { maxRetryAfterMs: -1 }],
    ['maxRetryAfterMs NaN', { maxRetryAfterMs: Number.NaN }],
    ['retryJitterMs -1', { retryJitterMs: -1 }],
    ['signal that is not an AbortSignal', { signal: {} }],
  ];

  it.each(bad)('refuse %s with InvalidArgumentError before anything touches Redis (no lock or lease is left behind)', async (_name, options) => {
    const lockKey = `${prefix}:lock:${_name.replace(/\W+/g, '-')}`;
    const semKey = `${prefix}:sem:${_name.replace(/\W+/g, '-')}`;
    let ran = false;
    const run = () => {
      ran = true;
    };
    await expect(withLock(redis, lockKey, run, { ttlMs: 30_000, ...options })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(withSemaphore(redis, semKey, run, { limit: 1, ttlMs: 30_000, ...options })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(ran).toBe(false);
    // One key per call: on a cluster the two keys live in different slots.
    expect([await redis.exists(lockKey), await redis.exists(semKey)]).toEqual([0, 0]);
  });

  it('withLock does not run fn, and leaves nothing held, when the caller signal has already aborted', async () => {
    const lockKey = `${prefix}:aborted-lock`;
    const caller = new AbortController();
    const reason = new Error('job time limit');
    caller.abort(reason);
    let ran = 0;
    const fn = () => {
      ran++;
      return 'ran without the lock';
    };
    await expect(withLock(redis, lockKey, fn, { ttlMs: 30_000, signal: caller.signal })).rejects.toBe(reason);
    expect(ran).toBe(0);
    expect(await redis.exists(lockKey)).toBe(0);
  });

  it('withLock does not run fn when the caller signal aborts while waiting for the lock, and stop waiting at once', async () => {
    const key = `${prefix}:abort-while-waiting`;
    await redis.set(key, 'someone', 'PX', 2000);
    const caller = new AbortController();
    const reason = new Error('job time limit');
    setTimeout(() => caller.abort(reason), 50);
    let ran = false;
    const started = performance.now();
    const outcome = await withLock(
      redis,
      key,
      () => {
        ran = true;
      },
      { ttlMs: 30_000, waitMs: 5000, signal: caller.signal },
    ).catch((e: unknown) => e);
    expect(outcome).toBe(reason);
    expect(ran).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
