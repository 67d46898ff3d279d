import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { InvalidArgumentError } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, connectTestRedis, testRedisTarget } from '@platform/testing';
import { acquireSemaphore, LockLostError, SemaphoreNotAcquiredError, withSemaphore } from './index';

const redis = connectTestRedis();
const clients = [connectTestRedis(), connectTestRedis()];
const prefix = uniquePrefix('sem');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(async () => {
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
  for (const client of clients) await client.quit();
});

describe('acquireSemaphore', () => {
  it('hands out at most limit leases, and a released slot is taken again', async () => {
    const key = `${prefix}:basic`;
    const leases = await Promise.all([1, 2, 3].map(() => acquireSemaphore(redis, key, { limit: 2, ttlMs: 5000 })));
    expect(leases.filter((l) => l !== null)).toHaveLength(2);
    expect(await redis.zcard(key)).toBe(2);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    const held = leases.filter((l) => l !== null);
    expect(await held[0]!.release()).toBe(true);
    expect(await held[0]!.release()).toBe(false);
    const again = await acquireSemaphore(redis, key, { limit: 2, ttlMs: 5000 });
    expect(again).not.toBeNull();
    expect(await held[1]!.extend(8000)).toBe(true);
    await held[1]!.release();
    await again!.release();
    expect(await redis.exists(key)).toBe(0);
  });

  it('an expired lease can neither be extended nor released, and leaves the other holder alone', async () => {
    const key = `${prefix}:expired`;
    const stale = await acquireSemaphore(redis, key, { limit: 1, ttlMs: 50 });
    await sleep(80);
    const fresh = await acquireSemaphore(redis, key, { limit: 1, ttlMs: 5000 });
    expect(fresh).not.toBeNull();
    expect(await stale!.extend()).toBe(false);
    expect(await stale!.release()).toBe(false);
    expect(await redis.zrange(key, '0', '-1')).toEqual([fresh!.id]);
    await fresh!.release();
  });

  it('never has more than limit holders under contention (sampled), and every worker gets through', async () => {
    const key = `${prefix}:contended`;
    const limit = 3;
    let inside = 0;
    let maxInside = 0;
    let maxInRedis = 0;
    let done = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // No lease expires here (TTL 5 s), so the set's size is the number of holders.
        maxInRedis = Math.max(maxInRedis, await redis.zcard(key));
        await sleep(2);
      }
    })();
    const worker = async (i: number) => {
      const client = clients[i % clients.length]!;
      for (let round = 0; round < 10; round++) {
        await withSemaphore(
          client,
          key,
          async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await sleep(Math.random() * 5);
            inside--;
          },
          { limit, ttlMs: 5000, waitMs: 30_000 },
        );
        done++;
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, i) => worker(i)));
    sampling = false;
    await sampler;
    expect(done).toBe(120);
    expect(maxInside).toBeLessThanOrEqual(limit);
    expect(maxInRedis).toBeLessThanOrEqual(limit);
    // The limit was actually reached: the check would catch an over-admitting script.
    expect(maxInside).toBe(limit);
    expect(await redis.exists(key)).toBe(0);
  });

  it('never has more than limit holders across two processes', async () => {
    const key = `${prefix}:procs`;
    const insideKey = `${prefix}:inside`;
    const limit = 3;
    // Children require the built package: `npx turbo run build --filter=@platform/locks...` (npm test does).
    const fixture = join(__dirname, '..', 'test-fixtures', 'semaphore-contender.js');
    const run = () =>
      new Promise<{ max: number; sections: number }>((resolve, reject) => {
        const child = spawn(process.execPath, [fixture, testRedisTarget(), key, insideKey, String(limit), '10', '20'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { max: number; sections: number }) : reject(new Error(err))));
      });
    const results = await Promise.all([run(), run()]);
    expect(results.map((r) => r.sections)).toEqual([200, 200]);
    const max = Math.max(...results.map((r) => r.max));
    expect(max).toBeLessThanOrEqual(limit);
    expect(max).toBe(limit);
    expect(await redis.get(insideKey)).toBe('0');
  }, 60_000);

  it('withSemaphore throws SemaphoreNotAcquiredError when full, and LockLostError when the lease is removed', async () => {
    const key = `${prefix}:errors`;
    const holder = await acquireSemaphore(redis, key, { limit: 1, ttlMs: 10_000 });
    const busy = await withSemaphore(redis, key, () => 1, { limit: 1, ttlMs: 1000, waitMs: 30 }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(SemaphoreNotAcquiredError);
    expect((busy as SemaphoreNotAcquiredError).code).toBe('SEMAPHORE_NOT_ACQUIRED');
    expect((busy as SemaphoreNotAcquiredError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect((busy as SemaphoreNotAcquiredError).retryAfterMs).toBeLessThanOrEqual(1250);
    const uncapped = await withSemaphore(redis, key, () => 1, { limit: 1, ttlMs: 1000, maxRetryAfterMs: 60_000 }).catch((e: unknown) => e);
    expect((uncapped as SemaphoreNotAcquiredError).retryAfterMs).toBeGreaterThan(5000);
    await holder!.release();

    const lost = await withSemaphore(
      redis,
      key,
      async (signal) => {
        await redis.del(key);
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
      { limit: 1, ttlMs: 300 },
    ).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(LockLostError);
  });

  it('rejects a bad limit before touching Redis', async () => {
    const key = `${prefix}:bad`;
    await expect(acquireSemaphore(redis, key, { limit: 0, ttlMs: 1000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireSemaphore(redis, key, { limit: 1.5, ttlMs: 1000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // A key that cannot be turned into a string: still the typed error, not a TypeError.
    await expect(acquireSemaphore(redis, { toString: false } as unknown as string, { limit: 2, ttlMs: 1000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await redis.exists(key)).toBe(0);
  });
});
