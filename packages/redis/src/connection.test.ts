import { once } from 'node:events';
import { findFreePort, rejectionOf, startRedisServer, type RedisServer } from '@platform/testing';
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

describe('isConnectionError on replies', () => {
  it('counts the replies that refuse every command for now (OOM, READONLY, ...; a MULTI discarded for one), not those about the command', async () => {
    const reply = async (...args: string[]) => (await rejectionOf(() => client.call(args[0]!, ...args.slice(1)))).error as Error;
    expect(isConnectionError(await reply('XGROUP', 'CREATE', 'no-such-stream', 'g', '$'))).toBe(false);
    expect(isConnectionError(await reply('INCR', 'k'.repeat(3), 'extra'))).toBe(false);
    for (const message of ["OOM command not allowed when used memory > 'maxmemory'.", "READONLY You can't write against a read only replica.", 'LOADING Redis is loading the dataset in memory', 'MISCONF Redis is configured to save RDB snapshots', 'MASTERDOWN Link with MASTER is down', 'NOREPLICAS Not enough good replicas to write.', 'BUSY Redis is busy running a script.']) {
      expect([message, isConnectionError(new Error(message))]).toEqual([message, true]);
    }
    for (const message of ['BUSYGROUP Consumer Group name already exists', 'BUSYKEY Target key name already exists.', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'EXECABORT Transaction discarded because of previous errors.']) {
      expect([message, isConnectionError(new Error(message))]).toEqual([message, false]);
    }
    const discarded = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error("OOM command not allowed when used memory > 'maxmemory'.")] });
    expect(isConnectionError(discarded)).toBe(true);
    expect(toUnavailableError(discarded, 'test call')).toBeInstanceOf(RedisUnavailableError);
  });
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

describe('Redis Cluster unavailable', () => {
  it('a producer command fails within commandTimeoutMs (+1 s) when no node can be reached, instead of waiting in the offline queue', async () => {
    const port = await findFreePort();
    const cluster = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}` }), { role: 'producer', commandTimeoutMs: 500 });
    try {
      const hung = new Error('still waiting after 5 s');
      let timer: NodeJS.Timeout | undefined;
      const { error, elapsedMs } = await rejectionOf(() =>
        Promise.race([cluster.get('k'), new Promise((_, reject) => (timer = setTimeout(() => reject(hung), 5000)))]),
      );
      clearTimeout(timer);
      expect(error).not.toBe(hung);
      expect(isConnectionError(error)).toBe(true);
      expect(toUnavailableError(error, 'test call')).toBeInstanceOf(RedisUnavailableError);
      expect(elapsedMs).toBeLessThan(1500);
    } finally {
      await closeConnection(cluster);
    }
  });
});
