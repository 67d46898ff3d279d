import { deleteKeysByPrefix, uniquePrefix, connectTestRedis, testRedisTarget } from '@platform/testing';
import { Cluster, type Redis } from 'ioredis';
import { acquireLock, LockUnavailableError } from './index';
import { fenceKeyFor } from './keys';

const redis = connectTestRedis();
const prefixes: string[] = [];

function prefix(): string {
  const p = uniquePrefix('lockbatch');
  prefixes.push(p);
  return p;
}

/** `client` with its EVALSHA calls counted (everything else passes through). */
function counting<C extends Redis | Cluster>(client: C): { client: C; evalshas: () => number } {
  let n = 0;
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === 'evalsha') {
        return (...args: Parameters<Redis['evalsha']>) => {
          n++;
          return target.evalsha(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { client: proxy, evalshas: () => n };
}

beforeAll(async () => {
  await redis.ping();
});

afterAll(async () => {
  for (const p of prefixes) await deleteKeysByPrefix(redis, p);
  await redis.quit();
});

test('the acquisitions of one event-loop turn go to Redis as one script call, and so do their releases (on a Cluster, one call each)', async () => {
  const p = prefix();
  // A Cluster's batch would span slots, so the batcher sends each call alone there (by design).
  const perTurn = redis.isCluster ? 50 : 1;
  const { client, evalshas } = counting(redis);
  // Load the scripts first, so that no NOSCRIPT retry is counted.
  const warm = await Promise.all([acquireLock(client, `${p}:warm1`, { ttlMs: 10_000 }), acquireLock(client, `${p}:warm2`, { ttlMs: 10_000 })]);
  await Promise.all(warm.map((lock) => lock!.release()));
  const before = evalshas();
  const locks = await Promise.all(Array.from({ length: 50 }, (_, i) => acquireLock(client, `${p}:k${i}`, { ttlMs: 10_000 })));
  expect(evalshas() - before).toBe(perTurn);
  expect(locks.every((lock) => lock !== null && lock.fence >= 1)).toBe(true);
  for (let i = 0; i < 50; i++) expect(await redis.get(`${p}:k${i}`)).not.toBeNull();
  const released = await Promise.all(locks.map((lock) => lock!.release()));
  expect(evalshas() - before).toBe(2 * perTurn);
  expect(released).toEqual(Array(50).fill(true));
  for (let i = 0; i < 50; i++) expect(await redis.exists(`${p}:k${i}`)).toBe(0);
});

test('many callers of one key in one batch: exactly one wins each round, and fences strictly increase', async () => {
  const p = prefix();
  const key = `${p}:one`;
  const fences: number[] = [];
  for (let round = 0; round < 20; round++) {
    const results = await Promise.all(Array.from({ length: 30 }, () => acquireLock(redis, key, { ttlMs: 10_000 })));
    const winners = results.filter((lock) => lock !== null);
    expect(winners).toHaveLength(1);
    fences.push(winners[0]!.fence);
    // The losers' stale releases in the same batch as the winner's change nothing but the winner's.
    expect(await winners[0]!.release()).toBe(true);
  }
  for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]!);
});

test('a release that is no longer the owner in a batch leaves the new holder alone', async () => {
  const p = prefix();
  const first = await acquireLock(redis, `${p}:a`, { ttlMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 80));
  const second = await acquireLock(redis, `${p}:a`, { ttlMs: 10_000 });
  expect(second).not.toBeNull();
  const [stale, other] = await Promise.all([first!.release(), acquireLock(redis, `${p}:b`, { ttlMs: 10_000 })]);
  expect(stale).toBe(false);
  expect(other).not.toBeNull();
  expect(await redis.get(`${p}:a`)).not.toBeNull();
  expect(await second!.release()).toBe(true);
});

test('a key whose fence counter holds another type fails only its own call of the batch, as it would alone', async () => {
  const p = prefix();
  await redis.hset(fenceKeyFor(`${p}:bad`), 'x', '1');
  const alone = await acquireLock(redis, `${p}:alone`, { ttlMs: 10_000 }).then((lock) => lock!.release());
  expect(alone).toBe(true);
  const results = await Promise.allSettled([
    acquireLock(redis, `${p}:good1`, { ttlMs: 10_000 }),
    acquireLock(redis, `${p}:bad`, { ttlMs: 10_000 }),
    acquireLock(redis, `${p}:good2`, { ttlMs: 10_000 }),
  ]);
  expect(results[0]!.status).toBe('fulfilled');
  expect(results[2]!.status).toBe('fulfilled');
  expect(results[1]!.status).toBe('rejected');
  const error = (results[1] as PromiseRejectedResult).reason as Error;
  expect(error).not.toBeInstanceOf(LockUnavailableError);
  expect(error.message).toMatch(/WRONGTYPE/);
  // The same call on its own fails the same way: a Redis error reply, not "Redis unavailable".
  await redis.del(`${p}:bad`);
  const aloneError = await acquireLock(redis, `${p}:bad`, { ttlMs: 10_000 }).then(
    () => undefined,
    (reason: unknown) => reason as Error,
  );
  expect(aloneError?.message).toMatch(/WRONGTYPE/);
  expect(error.name).toBe(aloneError!.name);
});

test('a client that is not ready, and a Cluster client, are not batched (each call is its own script call)', async () => {
  const p = prefix();
  const lazy = connectTestRedis(testRedisTarget(), { lazyConnect: true });
  try {
    const { client, evalshas } = counting(lazy);
    const locks = await Promise.all([acquireLock(client, `${p}:l1`, { ttlMs: 10_000 }), acquireLock(client, `${p}:l2`, { ttlMs: 10_000 })]);
    expect(locks.every((lock) => lock !== null)).toBe(true);
    expect(evalshas()).toBeGreaterThanOrEqual(2);
  } finally {
    lazy.disconnect();
  }
  // A Cluster's batch would span slots: the batcher sends each call alone (checked without a cluster:
  // the calls fail to connect, one by one, rather than as one batch).
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, clusterRetryStrategy: () => null });
  // Its failure to connect is expected here: without a listener ioredis prints it as unhandled.
  cluster.on('error', () => undefined);
  try {
    const { client, evalshas } = counting(cluster);
    await Promise.allSettled([acquireLock(client, `${p}:c1`, { ttlMs: 1000 }), acquireLock(client, `${p}:c2`, { ttlMs: 1000 })]);
    expect(evalshas()).toBe(2);
  } finally {
    cluster.disconnect();
  }
});
