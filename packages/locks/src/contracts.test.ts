import { once } from 'node:events';
import { closeConnection, createRedisConnection, isDeferral, loadRedisConfig, redisKey, RedisUnavailableError } from '@platform/redis';
import { deleteKeysByPrefix, rejectionOf, startRedisServer, uniquePrefix, connectTestRedis } from '@platform/testing';
import {
  acquireLock,
  acquireSemaphore,
  activityLock,
  activityLockHandler,
  Lock,
  LockNotAcquiredError,
  LockUnavailableError,
  SemaphoreLease,
  SemaphoreNotAcquiredError,
  withLock,
  withSemaphore,
} from './index';

const redis = connectTestRedis();
const prefix = uniquePrefix('locks-contracts');
const savedPrefix = process.env.REDIS_KEY_PREFIX;

afterEach(() => {
  if (savedPrefix === undefined) delete process.env.REDIS_KEY_PREFIX;
  else process.env.REDIS_KEY_PREFIX = savedPrefix;
});

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${prefix}`);
  await deleteKeysByPrefix(redis, `lock:activity:${prefix}`);
  await redis.quit();
});

describe('busy locks and semaphores as deferrals', () => {
  it('withLock and activityLockHandler throw a lock-busy deferral when meant to delay a job, a plain error otherwise', async () => {
    const key = `${prefix}:busy`;
    const holder = await acquireLock(redis, key, { ttlMs: 10_000 });
    const plain = await withLock(redis, key, () => 'ran', { ttlMs: 1000 }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(LockNotAcquiredError);
    expect(isDeferral(plain)).toBe(false);
    const deferred = await withLock(redis, key, () => 'ran', { ttlMs: 1000, delayJobWhenBusy: true }).catch((e: unknown) => e);
    expect(isDeferral(deferred)).toBe(true);
    expect(deferred).toMatchObject({ delayJob: true, deferralReason: 'lock-busy' });
    expect((deferred as LockNotAcquiredError).retryAfterMs).toBeGreaterThanOrEqual(0);
    await holder!.release();

    const activityId = `${prefix}-a1`;
    const job = { activityId };
    const handler = activityLockHandler(redis, (j: typeof job) => j.activityId, async () => 'done');
    const inner = await activityLock(redis, activityId, () => handler(job, {}).catch((e: unknown) => e));
    expect(isDeferral(inner)).toBe(true);
    expect(inner).toMatchObject({ deferralReason: 'lock-busy' });
  });

  it('withSemaphore throws a lock-busy deferral with delayJobWhenBusy', async () => {
    const key = `${prefix}:sem`;
    const lease = await acquireSemaphore(redis, key, { limit: 1, ttlMs: 10_000 });
    const plain = await withSemaphore(redis, key, () => 'ran', { limit: 1, ttlMs: 1000 }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(SemaphoreNotAcquiredError);
    expect(isDeferral(plain)).toBe(false);
    const deferred = await withSemaphore(redis, key, () => 'ran', { limit: 1, ttlMs: 1000, delayJobWhenBusy: true }).catch((e: unknown) => e);
    expect(isDeferral(deferred)).toBe(true);
    expect(deferred).toMatchObject({ deferralReason: 'lock-busy' });
    await lease!.release();
  });
});

describe('fencing token handed to the work', () => {
  it('withLock and activityLock call fn(signal, lock) with the held lock and its fence', async () => {
    const key = `${prefix}:fence`;
    const first = await withLock(redis, key, (signal, lock) => ({ signal, lock }), { ttlMs: 5000 });
    expect(first.signal).toBeInstanceOf(AbortSignal);
    expect(first.lock).toBeInstanceOf(Lock);
    expect(first.lock.key).toBe(key);
    const second = await withLock(redis, key, (_signal, lock) => lock.fence, { ttlMs: 5000 });
    expect(second).toBeGreaterThan(first.lock.fence);
    // A one-argument fn still works.
    expect(await withLock(redis, key, (signal) => signal.aborted, { ttlMs: 5000 })).toBe(false);

    const activityId = `${prefix}-fenced`;
    const seen = await activityLock(redis, activityId, async (_signal, lock) => ({ key: lock.key, value: await redis.get(lock.key), fence: lock.fence, token: lock.token }));
    expect(seen.key).toBe(redisKey('lock', 'activity', activityId));
    expect(seen.value).toBe(seen.token);
    expect(seen.fence).toBeGreaterThan(0);
    const handled = await activityLockHandler(redis, (id: string) => id, async (_job, _ctx, _signal, lock) => lock.fence)(activityId, {});
    expect(handled).toBeGreaterThan(seen.fence);
  });

  it('withSemaphore calls fn(signal, lease)', async () => {
    const id = await withSemaphore(redis, `${prefix}:sem-fn`, (_signal, lease) => {
      expect(lease).toBeInstanceOf(SemaphoreLease);
      return lease.id;
    }, { limit: 2, ttlMs: 5000 });
    expect(typeof id).toBe('string');
  });
});

describe('key prefix', () => {
  it('activityLock uses lock:activity:<id> by default, REDIS_KEY_PREFIX when set, and an explicit keyPrefix over both', async () => {
    const activityId = `${prefix}-ns`;
    delete process.env.REDIS_KEY_PREFIX;
    expect(await activityLock(redis, activityId, (_s, lock) => lock.key)).toBe(`lock:activity:${activityId}`);
    process.env.REDIS_KEY_PREFIX = prefix;
    const prefixed = await activityLock(redis, activityId, async (_s, lock) => ({ key: lock.key, exists: await redis.exists(lock.key) }));
    expect(prefixed).toEqual({ key: `${prefix}:lock:activity:${activityId}`, exists: 1 });
    expect(await activityLock(redis, activityId, (_s, lock) => lock.key, { keyPrefix: '' })).toBe(`lock:activity:${activityId}`);
    expect(await activityLock(redis, activityId, (_s, lock) => lock.key, { keyPrefix: `${prefix}-x` })).toBe(`${prefix}-x:lock:activity:${activityId}`);
    // acquireLock stores the key exactly as given, prefix or not.
    const lock = await acquireLock(redis, `${prefix}:given`, { ttlMs: 1000 });
    expect(lock!.key).toBe(`${prefix}:given`);
    expect(await redis.get(`${prefix}:given`)).toBe(lock!.token);
    await lock!.release();
  });
});

describe('Redis unavailable', () => {
  it('every operation rejects with LockUnavailableError (a RedisUnavailableError) within commandTimeoutMs + 1 s', async () => {
    const server = await startRedisServer();
    const client = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), {
      role: 'producer',
      commandTimeoutMs: 1000,
      redisOptions: { disconnectTimeout: 50 },
    });
    try {
      if (client.status !== 'ready') await once(client, 'ready');
      const held = await acquireLock(client, 'lock:held', { ttlMs: 60_000 });
      const lease = await acquireSemaphore(client, 'sem:held', { limit: 1, ttlMs: 60_000 });
      await server.stop();
      const calls: [string, () => Promise<unknown>][] = [
        ['lock:a', () => acquireLock(client, 'lock:a', { ttlMs: 1000 })],
        ['lock:b', () => acquireLock(client, 'lock:b', { ttlMs: 1000, waitMs: 5000 })],
        ['lock:c', () => withLock(client, 'lock:c', () => 'ran', { ttlMs: 1000 })],
        ['lock:held', () => held!.release()],
        ['lock:held', () => held!.extend()],
        ['sem:a', () => acquireSemaphore(client, 'sem:a', { limit: 1, ttlMs: 1000 })],
        ['sem:held', () => lease!.release()],
        ['sem:held', () => lease!.extend()],
      ];
      for (const [key, call] of calls) {
        const { error, elapsedMs } = await rejectionOf(call);
        expect({ key, elapsedBelow2s: elapsedMs < 2000, unavailable: error instanceof RedisUnavailableError }).toEqual({
          key,
          elapsedBelow2s: true,
          unavailable: true,
        });
        expect(error).toBeInstanceOf(LockUnavailableError);
        expect(error).toMatchObject({ code: 'REDIS_UNAVAILABLE', key });
      }
    } finally {
      await closeConnection(client);
      await server.stop();
    }
  });
});
