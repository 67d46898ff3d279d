import { ConfigError } from '@platform/redis';
import { RATE_LIMIT_ALGORITHMS } from './options';
import { createRateLimiter, type RateLimitResult } from './rate-limiter';
import { testRedis } from './test-helpers';

const { redis, prefix } = testRedis();

/**
 * `client` with the EVALSHA/EVAL calls sent through it counted (everything else passes through):
 * exact on a shared server or a cluster, where other test files run scripts at the same time.
 */
function counting<C extends object>(client: C): { client: C; scriptCalls: () => number } {
  let calls = 0;
  const proxy = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      return property === 'evalsha' || property === 'eval' ? (...args: unknown[]) => (calls++, bound(...args)) : bound;
    },
  });
  return { client: proxy, scriptCalls: () => calls };
}

/** What a result says, without the times (the two runs happen a few ms apart). */
const shape = (r: RateLimitResult) => ({ allowed: r.allowed, remaining: r.remaining, retries: r.retryAfterMs > 0 });

describe('batching: the calls of one event-loop turn in one script call', () => {
  it.each(RATE_LIMIT_ALGORITHMS)('%s: a batch decides exactly as the same calls one by one would', async (algorithm) => {
    // 60 calls in one turn over 3 tenants (20 each, limit 7, costs 1-3): the batched limiter and an
    // unbatched one on their own keys must give the same decisions in the same order.
    const calls = Array.from({ length: 60 }, (_, i) => ({ tenant: `t${i % 3}`, cost: 1 + (i % 3 === 0 ? i % 2 : 0) + (i % 5 === 0 ? 1 : 0) }));
    // A ready client: calls made while it still connects are not batched.
    await redis.ping();
    const counted = counting(redis);
    const options = { limit: 7, windowSeconds: 3600, algorithm, shortCircuit: false } as const;
    const batched = createRateLimiter({ ...options, redis: counted.client, provider: `b-${algorithm}`, prefix });
    const single = createRateLimiter({ ...options, redis, provider: `s-${algorithm}`, prefix, batching: false });
    const fromBatch = await Promise.all(calls.map((c) => batched.consume(c.tenant, { cost: c.cost })));
    const batchScripts = counted.scriptCalls();
    const fromSingles: RateLimitResult[] = [];
    for (const c of calls) fromSingles.push(await single.consume(c.tenant, { cost: c.cost }));
    expect(fromBatch.map(shape)).toEqual(fromSingles.map(shape));
    expect(fromBatch.filter((r) => r.allowed).length).toBeGreaterThan(0);
    expect(fromBatch.filter((r) => !r.allowed).length).toBeGreaterThan(0);
    if (redis.isCluster) {
      // On a Cluster one script call per master serving the 3 tenants' keys (and an EVAL after an
      // EVALSHA that met NOSCRIPT on a master): see cluster-batching.test.ts.
      expect(batchScripts).toBeGreaterThanOrEqual(1);
      expect(batchScripts).toBeLessThanOrEqual(6);
    } else {
      // One script call for the whole turn (two if the first EVALSHA met NOSCRIPT and EVAL followed).
      expect(batchScripts).toBeGreaterThanOrEqual(1);
      expect(batchScripts).toBeLessThanOrEqual(2);
    }
  });

  it('100 concurrent callers of one key in one turn: exactly the limit is allowed, and the counter says so', async () => {
    const limiter = createRateLimiter({ redis, provider: 'burst', limit: 25, windowSeconds: 3600, prefix, shortCircuit: false });
    const results = await Promise.all(Array.from({ length: 100 }, () => limiter.consume('tenant-burst')));
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
    expect(results.filter((r) => r.allowed).map((r) => r.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await redis.get(limiter.key('tenant-burst'))).toBe('25');
    expect(await redis.pttl(limiter.key('tenant-burst'))).toBeGreaterThan(0);
  });

  it('more calls in one turn than one batch holds: every call is decided, the total stays exact', async () => {
    const limiter = createRateLimiter({ redis, provider: 'many', limit: 600, windowSeconds: 3600, prefix, shortCircuit: false });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => limiter.consume(`tenant-${i % 2}`)));
    expect(results.filter((r) => r.allowed)).toHaveLength(1000);
    const again = await Promise.all(Array.from({ length: 500 }, () => limiter.consume('tenant-0')));
    expect(again.filter((r) => r.allowed)).toHaveLength(100);
  });

  it('a key that holds another type fails only its own calls in the batch, with the typed error, and stays unchanged', async () => {
    const limiter = createRateLimiter({ redis, provider: 'wrongtype', limit: 5, windowSeconds: 60, prefix });
    await redis.hset(limiter.key('tenant-bad'), 'field', 'value');
    const settled = await Promise.allSettled([limiter.consume('tenant-ok'), limiter.consume('tenant-bad'), limiter.consume('tenant-ok')]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConfigError);
    expect(settled.filter((s): s is PromiseFulfilledResult<RateLimitResult> => s.status === 'fulfilled').map((s) => s.value.remaining)).toEqual([4, 3]);
    expect(await redis.hgetall(limiter.key('tenant-bad'))).toEqual({ field: 'value' });
  });

  it('a lone call is one script call, as without batching', async () => {
    const counted = counting(redis);
    const limiter = createRateLimiter({ redis: counted.client, provider: 'lone', limit: 5, windowSeconds: 60, prefix });
    await limiter.consume('tenant-lone');
    const before = counted.scriptCalls();
    const result = await limiter.consume('tenant-lone');
    expect(counted.scriptCalls()).toBe(before + 1);
    expect(result).toMatchObject({ allowed: true, remaining: 3 });
  });
});
