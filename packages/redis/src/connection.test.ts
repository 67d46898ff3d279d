import { once } from 'node:events';
import { rejectionOf, startRedisServer, type RedisServer } from '@platform/testing';
import type { RedisClient } from './connection';
import { loadRedisConfig } from './config';
import { closeConnection, createRedisConnection, isConnectionError, toUnavailableError } from './connection';
import { PlatformError, RedisUnavailableError } from './errors';
import { leases } from './leases';

// A private server this test can stop without disturbing the others.
let server: RedisServer;
let client: RedisClient;

beforeAll(async () => {
  server = await startRedisServer();
  client = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), {
    role: 'producer',
    commandTimeoutMs: 1000,
    redisOptions: { disconnectTimeout: 50 },
  });
  if (client.status !== 'ready') await once(client, 'ready');
});

afterAll(async () => {
  await closeConnection(client);
  await server.stop();
});

describe('Redis unavailable', () => {
  it('a producer command fails within commandTimeoutMs (+1 s) and becomes a RedisUnavailableError', async () => {
    expect(await client.ping()).toBe('PONG');
    await server.stop();
    for (const call of [() => client.get('k'), () => leases.take(client, 'lease-set', 'a', 1, 1000)]) {
      const { error, elapsedMs } = await rejectionOf(call);
      expect(isConnectionError(error)).toBe(true);
      const wrapped = toUnavailableError(error, 'test call');
      expect(wrapped).toBeInstanceOf(RedisUnavailableError);
      expect(wrapped).toBeInstanceOf(PlatformError);
      expect((wrapped as RedisUnavailableError).code).toBe('REDIS_UNAVAILABLE');
      expect((wrapped as RedisUnavailableError).message).toMatch(/^test call: Redis is unavailable/);
      expect((wrapped as RedisUnavailableError).cause).toBe(error);
      expect(elapsedMs).toBeLessThan(2000);
    }
    // Other errors pass through unchanged.
    const other = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(toUnavailableError(other, 'x')).toBe(other);
  });
});
