import { once } from 'node:events';
import { InvalidArgumentError, isDeferral } from '@platform/redis';
import { waitFor } from '@platform/testing';
import { ConcurrencyLimitError, createConcurrencyLimiter, withConcurrencyLimit } from './index';
import { fixtureProcesses, sleep, testRedis } from './test-helpers';

const { redis, prefix } = testRedis();
const start = fixtureProcesses();

describe('concurrency limiter', () => {
  it('never has more than N in flight, and every call eventually runs', async () => {
    const limiter = createConcurrencyLimiter({ redis, prefix, provider: 'browserless', maxInFlight: 3, leaseMs: 10_000 });
    let inFlight = 0;
    let maxSeen = 0;
    let refusals = 0;
    const task = async () => {
      for (;;) {
        try {
          return await withConcurrencyLimit(limiter, 't1', async () => {
            inFlight++;
            maxSeen = Math.max(maxSeen, inFlight);
            await sleep(30);
            inFlight--;
            return 'done';
          });
        } catch (error) {
          if (!(error instanceof ConcurrencyLimitError)) throw error;
          refusals++;
          expect(isDeferral(error)).toBe(true);
          expect(error.deferralReason).toBe('concurrency');
          expect(error.retryAfterMs).toBeGreaterThan(0);
          await sleep(5);
        }
      }
    };
    const results = await Promise.all(Array.from({ length: 15 }, task));
    expect(results).toEqual(Array(15).fill('done'));
    expect(maxSeen).toBe(3);
    expect(refusals).toBeGreaterThan(0);
    // Every lease was released.
    expect(await limiter.inFlight('t1')).toBe(0);
  });

  it('counts leases per tenant, releases by id, and keeps a TTL on the lease set', async () => {
    const limiter = createConcurrencyLimiter({ redis, prefix, provider: 'openai', maxInFlight: 2, leaseMs: 5000 });
    const a = await limiter.acquire('t1');
    const b = await limiter.acquire('t1');
    const c = await limiter.acquire('t1');
    expect([a.acquired, b.acquired, c.acquired]).toEqual([true, true, false]);
    expect(c.retryAfterMs).toBeGreaterThan(0);
    expect((await limiter.acquire('t2')).acquired).toBe(true);
    const ttl = await redis.pttl(limiter.key('t1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
    expect(await a.lease!.release()).toBe(true);
    expect(await a.lease!.release()).toBe(false);
    expect(await a.lease!.extend()).toBe(false);
    expect(await limiter.inFlight('t1')).toBe(1);
    expect(await b.lease!.extend(20_000)).toBe(true);
    expect(await redis.pttl(limiter.key('t1'))).toBeGreaterThan(5000);
    expect((await limiter.acquire('t1')).acquired).toBe(true);
    await expect(limiter.acquire('a:b')).rejects.toThrow(InvalidArgumentError);
  });

  it('refuses a leaseMs or extension longer than a lease can be at creation, naming the option', async () => {
    const tooLong = 2 ** 31; // above the lease set's largest TTL (2^31 - 1 ms)
    expect(() => createConcurrencyLimiter({ redis, prefix, provider: 'long', maxInFlight: 1, leaseMs: tooLong })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'leaseMs' }),
    );
    const limiter = createConcurrencyLimiter({ redis, prefix, provider: 'long', maxInFlight: 1, leaseMs: 5000 });
    const { lease } = await limiter.acquire('t1');
    await expect(lease!.extend(tooLong)).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'ms' });
    expect(await lease!.release()).toBe(true);
  });

  it('with failOpen, a lease whose take ran but whose reply was lost (a timeout) is freed by its release, not held until it expires', async () => {
    // Every script runs on Redis, then its reply is lost as on a command timeout.
    const lossy = (run: (...args: never[]) => Promise<unknown>) => (...args: never[]) =>
      run(...args).then(() => {
        throw new Error('Command timed out');
      });
    const client = { status: 'ready', evalsha: lossy(redis.evalsha.bind(redis) as never), eval: lossy(redis.eval.bind(redis) as never) };
    const limiter = createConcurrencyLimiter({ redis: client, prefix, provider: 'lossy', maxInFlight: 1, leaseMs: 60_000, failOpen: true });
    const observer = createConcurrencyLimiter({ redis, prefix, provider: 'lossy', maxInFlight: 1, leaseMs: 60_000 });
    const result = await limiter.acquire('t1');
    expect(result.acquired).toBe(true);
    expect(await observer.inFlight('t1')).toBe(1); // the take ran
    expect(await result.lease!.release()).toBe(true);
    await waitFor(async () => ((await observer.inFlight('t1')) === 0 ? true : undefined), 2000, 20);
    expect((await observer.acquire('t1')).acquired).toBe(true);
  });

  it("frees a killed holder's lease after its TTL", async () => {
    const limiter = createConcurrencyLimiter({ redis, prefix, provider: 'crash', maxInFlight: 1, leaseMs: 1000 });
    const child = start('hold-lease.js', [prefix, 'crash', 't1', '1', '1000'], ['ignore', 'pipe', 'inherit']);
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    expect(line.toString()).toMatch(/^acquired /);
    process.kill(child.pid!, 'SIGKILL');
    await once(child, 'exit');
    // The dead holder still owns the only slot...
    const refused = await limiter.acquire('t1');
    expect(refused.acquired).toBe(false);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
    // ...until its lease expires.
    const freed = await waitFor(async () => {
      const result = await limiter.acquire('t1');
      return result.acquired ? result : undefined;
    }, 5000, 50);
    expect(freed.inFlight).toBe(1);
  });
});
