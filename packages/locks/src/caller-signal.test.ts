import { deleteKeysByPrefix, uniquePrefix, waitFor, connectTestRedis } from '@platform/testing';
import { activityLockHandler, withLock } from './with-lock';

const redis = connectTestRedis();
const prefix = uniquePrefix('locksig');

afterAll(async () => {
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
});

describe('withLock with a caller signal', () => {
  it('releases the lock at once when the caller signal aborts, even if fn never settles, and aborts fn with the same reason', async () => {
    const key = `${prefix}:never`;
    const caller = new AbortController();
    let inner: AbortSignal | undefined;
    void withLock(
      redis,
      key,
      (signal) => {
        inner = signal;
        return new Promise<never>(() => undefined);
      },
      { ttlMs: 30_000, signal: caller.signal },
    );
    // fn has started (the key alone is set a little before: a signal that aborts then keeps fn from running at all).
    await waitFor(() => inner);
    expect(await redis.exists(key)).toBe(1);
    const reason = new Error('time is up');
    caller.abort(reason);
    await waitFor(async () => (await redis.exists(key)) === 0, 2000);
    expect(inner?.aborted).toBe(true);
    expect(inner?.reason).toBe(reason);
    // Someone else can take it now.
    expect(await withLock(redis, key, () => 'mine', { ttlMs: 1000 })).toBe('mine');
  });

  it('returns what fn returns when fn honours the abort', async () => {
    const caller = new AbortController();
    const running = withLock(
      redis,
      `${prefix}:honours`,
      (signal) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('stopped'), { once: true })),
      { ttlMs: 30_000, signal: caller.signal },
    );
    setTimeout(() => caller.abort(new Error('soft limit')), 50);
    await expect(running).resolves.toBe('stopped');
  });

  it('activityLockHandler links the signal of the handler context', async () => {
    const caller = new AbortController();
    const activityId = `${prefix}-activity`;
    let inner: AbortSignal | undefined;
    const handler = activityLockHandler(
      redis,
      (job: { id: string }) => job.id,
      async (_job, _ctx, signal) => {
        inner = signal;
        return new Promise<never>(() => undefined);
      },
      { keyPrefix: prefix },
    );
    void handler({ id: activityId }, { signal: caller.signal });
    await waitFor(() => inner);
    caller.abort(new Error('hard limit'));
    expect(inner?.aborted).toBe(true);
    expect(await withLock(redis, `${prefix}:lock:activity:${activityId}`, () => 'taken', { ttlMs: 1000, waitMs: 2000 })).toBe('taken');
  });
});
