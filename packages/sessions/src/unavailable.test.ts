import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { closeConnection, createRedisConnection, loadRedisConfig, RedisUnavailableError } from '@platform/redis';
import { startRedisServer } from '@platform/testing';
import { SessionStoreUnavailableError } from './errors';
import { createResumeCache } from './resume-cache';
import { createSessionStore } from './store';
import { cartSchema } from './test-helpers';

describe('Redis down', () => {
  it('Redis stopped: every call rejects with SessionStoreUnavailableError within timeoutMs', async () => {
    // A private server this test can stop without disturbing the others.
    const server = await startRedisServer();
    // A short disconnectTimeout: ioredis otherwise keeps a timer for the dead socket on close.
    const redis = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'producer', commandTimeoutMs: 1000, redisOptions: { disconnectTimeout: 50 } });
    const store = createSessionStore({ redis, schema: cartSchema, keyPrefix: 'down', timeoutMs: 1500 });
    const resume = createResumeCache({ redis, keyPrefix: 'down', timeoutMs: 1500 });
    try {
      if (redis.status !== 'ready') await once(redis, 'ready');
      const { id } = await store.create({ tenantId: 't', userId: 'u' });
      await server.stop();
      for (const call of [
        () => store.create({ tenantId: 't', userId: 'u' }),
        () => store.get(id),
        () => store.update(id, { note: 'x' }),
        () => store.destroyAllForUser('t', 'u'),
        () => resume.lookup('activity'),
      ]) {
        const started = Date.now();
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionStoreUnavailableError);
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect((error as SessionStoreUnavailableError).code).toBe('REDIS_UNAVAILABLE');
        expect(Date.now() - started).toBeLessThan(2500);
      }
    } finally {
      await closeConnection(redis);
      await server.stop();
    }
  });

  it('a server that accepts but never answers: rejects at timeoutMs even with a client that waits forever', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    // Worker role: no command timeout, retries forever. The store's own bound still applies.
    const redis = createRedisConnection(loadRedisConfig({ REDIS_URL: `redis://127.0.0.1:${port}` }), { role: 'worker', redisOptions: { disconnectTimeout: 50 } });
    const store = createSessionStore({ redis, schema: cartSchema, keyPrefix: 'silent', timeoutMs: 500 });
    try {
      const started = Date.now();
      const error = await store.get('A'.repeat(32)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionStoreUnavailableError);
      expect((error as Error).message).toMatch(/did not answer within 500 ms/);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeConnection(redis);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
