/**
 * The first call a service makes, right after it created its connection: a fail-fast connection
 * (no offline queue, as the limiter connection is) refuses every command sent before its first
 * `ready`. A limiter, a lock, a session store and notifyOnce wait for that `ready` instead (at
 * most the connect timeout), so the first job after a worker starts does not fail.
 */
import { closeConnection, createRedisConnection, loadRedisConfig, type ConnectionOptions } from '@platform/redis';
import { createLimiterConnection, createRateLimiter, RateLimiterUnavailableError } from '@platform/ratelimit';
import { acquireLock } from '@platform/locks';
import { createSessionStore } from '@platform/sessions';
import { notifyOnce } from '@platform/notifications';
import { closeNotificationQueues } from '../../packages/notifications/src/queues';
import { deleteKeysByPrefix, findFreePort, uniquePrefix } from '@platform/testing';
import type { RedisClient } from '@platform/redis';
import { z } from 'zod';

const prefix = uniquePrefix('first-call');
const config = loadRedisConfig();
const made: RedisClient[] = [];

/** A fresh fail-fast connection, used at once: no `await once(redis, 'ready')`. */
function failFast(options: ConnectionOptions = {}): RedisClient {
  const redis = createRedisConnection(config, { ...options, redisOptions: { enableOfflineQueue: false, ...options.redisOptions } });
  made.push(redis);
  return redis;
}

afterAll(async () => {
  await closeNotificationQueues();
  const cleaner = createRedisConnection(config);
  await deleteKeysByPrefix(cleaner, `${prefix}:`);
  await cleaner.quit();
  await Promise.all(made.map((redis) => closeConnection(redis)));
});

it('a plain command on such a connection is refused before its first ready (what the calls below avoid)', async () => {
  const redis = failFast();
  expect(redis.status).not.toBe('ready');
  await expect(redis.get(`${prefix}:plain`)).rejects.toThrow(/Stream isn't writeable/);
});

it('a limiter on a fresh limiter connection decides its first call', async () => {
  const redis = createLimiterConnection(config);
  made.push(redis);
  const limiter = createRateLimiter({ redis, provider: `${prefix}-semrush`, limit: 2, windowSeconds: 60, keyPrefix: prefix });
  expect(redis.status).not.toBe('ready');
  const results = await Promise.all([limiter.consume('acme'), limiter.consume('acme'), limiter.consume('acme')]);
  expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
});

it('a lock on a fresh fail-fast connection is acquired by the first call', async () => {
  const redis = failFast();
  expect(redis.status).not.toBe('ready');
  const lock = await acquireLock(redis, `${prefix}:lock:activity-1`, { ttlMs: 10_000 });
  expect(lock).not.toBeNull();
  expect(await lock!.release()).toBe(true);
});

it('a session store on a fresh fail-fast connection creates and reads its first session', async () => {
  const redis = failFast();
  const store = createSessionStore({ redis, schema: z.object({ cart: z.array(z.string()) }), keyPrefix: prefix });
  expect(redis.status).not.toBe('ready');
  const created = await store.create({ tenantId: 'acme', userId: 'ada', cart: ['book'] });
  expect((await store.get(created.id))?.data.cart).toEqual(['book']);
});

it('notifyOnce on a fresh fail-fast connection enqueues its first notification', async () => {
  const redis = failFast();
  expect(redis.status).not.toBe('ready');
  const result = await notifyOnce(
    { tenantId: 'acme', type: 'welcome', dedupeKey: 'ada', channel: 'email', payload: { to: 'ada@example.test', subject: 'Welcome', text: 'Hello Ada.' } },
    { connection: redis, keyPrefix: prefix },
  );
  expect(result.enqueued).toBe(true);
});

it('still fails with the typed error, within the connect timeout, when Redis is not there at all', async () => {
  const port = await findFreePort();
  const redis = createLimiterConnection(loadRedisConfig({ REDIS_URL: `redis://127.0.0.1:${port}` }), { connectTimeoutMs: 1000 });
  made.push(redis);
  const limiter = createRateLimiter({ redis, provider: `${prefix}-down`, limit: 2, windowSeconds: 60, keyPrefix: prefix });
  const started = Date.now();
  await expect(limiter.consume('acme')).rejects.toBeInstanceOf(RateLimiterUnavailableError);
  // Generous: the bound is the connect timeout (1 s), not the reconnect loop.
  expect(Date.now() - started).toBeLessThan(10_000);
  await closeConnection(redis);
});
