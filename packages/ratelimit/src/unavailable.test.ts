import { once } from 'node:events';
import { createRedisConnection, loadRedisConfig, closeConnection, RedisUnavailableError, type RedisClient } from '@platform/redis';
import { rejectionOf, startRedisServer, type RedisServer } from '@platform/testing';
import { createConcurrencyLimiter, createLimiterConnection, createRateLimiter, RateLimiterUnavailableError, withRateLimit } from './index';

// A private server this test can stop without disturbing the others.
let server: RedisServer;
const clients: RedisClient[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  for (const client of clients) await closeConnection(client);
  await server.stop();
});

async function connect(kind: 'limiter' | 'producer'): Promise<RedisClient> {
  const config = loadRedisConfig({ REDIS_URL: server.url });
  // A short disconnectTimeout: ioredis otherwise keeps a 2 s timer for the dead socket on close.
  const redisOptions = { disconnectTimeout: 50 };
  const client =
    kind === 'limiter'
      ? createLimiterConnection(config, { redisOptions })
      : createRedisConnection(config, { role: 'producer', commandTimeoutMs: 1000, redisOptions });
  clients.push(client);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

describe('Redis unavailable', () => {
  it('every limiter call rejects with RateLimiterUnavailableError (a RedisUnavailableError) within 2 s, or allows with failOpen', async () => {
    const limiterRedis = await connect('limiter');
    const producerRedis = await connect('producer');
    const strict = createRateLimiter({ redis: limiterRedis, provider: 'semrush', limit: 5, windowSeconds: 60 });
    const viaProducer = createRateLimiter({ redis: producerRedis, provider: 'dataforseo', limit: 5, windowSeconds: 60, algorithm: 'sliding-window' });
    const open = createRateLimiter({ redis: limiterRedis, provider: 'openai', limit: 5, windowSeconds: 60, failOpen: true });
    expect((await strict.consume('t1')).allowed).toBe(true);
    expect((await viaProducer.consume('t1')).allowed).toBe(true);
    const pool = createConcurrencyLimiter({ redis: producerRedis, provider: 'browserless', maxInFlight: 2 });
    const held = await pool.acquire('t1');

    await server.stop();

    const calls: [string, () => Promise<unknown>][] = [
      [strict.key('t1'), () => strict.consume('t1')],
      [strict.key('t1'), () => strict.peek('t1')],
      [strict.key('t1'), () => strict.reset('t1')],
      [viaProducer.key('t1'), () => viaProducer.consume('t1')],
      [pool.key('t1'), () => pool.acquire('t1')],
      [pool.key('t1'), () => pool.inFlight('t1')],
      [pool.key('t1'), () => held.lease!.extend()],
      [pool.key('t1'), () => held.lease!.release()],
    ];
    const outcomes = await Promise.all(calls.map(([, call]) => rejectionOf(call)));
    outcomes.forEach(({ error, elapsedMs }, i) => {
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toBeInstanceOf(RateLimiterUnavailableError);
      expect(error).toMatchObject({ code: 'REDIS_UNAVAILABLE', key: calls[i]![0] });
      expect(elapsedMs).toBeLessThan(2000);
    });
    // withRateLimit does not run the call when the limiter cannot decide.
    let ran = false;
    await expect(withRateLimit(strict, 't1', () => (ran = true))).rejects.toThrow(RateLimiterUnavailableError);
    expect(ran).toBe(false);
    // failOpen is explicit.
    expect(await open.consume('t1')).toMatchObject({ allowed: true, retryAfterMs: 0 });
  });
});
