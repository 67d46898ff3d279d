import { InvalidArgumentError, isDeferral, redisKey } from '@platform/redis';
import { keysMatching, uniquePrefix } from '@platform/testing';
import { createConcurrencyLimiter, createRateLimiter, defineProviderLimits, RateLimitError, withRateLimit, type LimiterClient, type RateLimitAlgorithm } from './index';
import { RATE_LIMIT_ALGORITHMS } from './options';
import { isNotServedHere } from './rate-limiter';
import { sleep, testRedis } from './test-helpers';

const { redis, own } = testRedis();

/** A limiter under its own key prefix, so this test deletes only its own keys. */
function limiterFor(options: { limit: number; windowSeconds: number; algorithm?: RateLimitAlgorithm; burst?: number; shortCircuit?: boolean; provider?: string; batching?: boolean }) {
  return createRateLimiter({ redis, provider: 'semrush', prefix: own(uniquePrefix('rl')), ...options });
}

describe('10 calls per minute', () => {
  it('lets 10 calls through, the 11th throws RateLimitError, and the key has a TTL of 1..60 s', async () => {
    // Default prefix: the key is exactly ratelimit:{tenantId}:semrush.
    const tenantId = uniquePrefix('tenant');
    const semrush = createRateLimiter({ redis, provider: 'semrush', limit: 10, windowSeconds: 60 });
    const key = `ratelimit:${tenantId}:semrush`;
    expect(semrush.key(tenantId)).toBe(key);
    try {
      let calls = 0;
      for (let i = 0; i < 10; i++) await withRateLimit(semrush, tenantId, () => calls++);
      expect(calls).toBe(10);
      const error = await withRateLimit(semrush, tenantId, () => calls++).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitError);
      const rateLimitError = error as RateLimitError;
      expect(rateLimitError.name).toBe('RateLimitError');
      expect(rateLimitError.code).toBe('RATE_LIMITED');
      // A deferral: a worker delays the job by retryAfterMs without spending an attempt.
      expect(isDeferral(error)).toBe(true);
      expect(rateLimitError.deferralReason).toBe('rate-limit');
      expect(rateLimitError.limit).toBe(10);
      expect(rateLimitError.key).toBe(key);
      expect(rateLimitError.retryAfterMs).toBeGreaterThan(0);
      expect(rateLimitError.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(rateLimitError.message).toContain(`tenant "${tenantId}"`);
      expect(rateLimitError.message).toContain('semrush 10 times per 60 s');
      expect(calls).toBe(10);
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThanOrEqual(1);
      expect(ttl).toBeLessThanOrEqual(60);
      expect(await redis.get(key)).toBe('10');
    } finally {
      await redis.del(key);
    }
  });
});

describe.each(RATE_LIMIT_ALGORITHMS)('%s', (algorithm) => {
  it('counts consume, not peek, and reset starts over', async () => {
    const limiter = limiterFor({ limit: 3, windowSeconds: 60, algorithm });
    expect((await limiter.peek('t1')).remaining).toBe(3);
    const first = await limiter.consume('t1');
    expect(first).toMatchObject({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect(first.resetAt).toBeGreaterThan(Date.now());
    expect(await limiter.peek('t1')).toMatchObject({ allowed: true, remaining: 2 });
    expect(await limiter.consume('t1', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.peek('t1')).toMatchObject({ allowed: false, remaining: 0 });
    const refused = await limiter.consume('t1');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    await limiter.reset('t1');
    expect(await limiter.consume('t1')).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('isolates tenants', async () => {
    const limiter = limiterFor({ limit: 2, windowSeconds: 60, algorithm });
    await limiter.consume('tenant-a');
    await limiter.consume('tenant-a');
    expect((await limiter.consume('tenant-a')).allowed).toBe(false);
    expect(await limiter.consume('tenant-b')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('leaves no key without a TTL after any sequence of calls', async () => {
    const prefix = own(uniquePrefix('rl'));
    const limiters = [1, 3].map((limit) =>
      createRateLimiter({ redis, provider: `p${limit}`, prefix, limit, windowSeconds: 30, algorithm, shortCircuit: false }),
    );
    // A seeded pseudo-random mix of consumes (various costs), peeks and resets on a few tenants.
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const limiter = limiters[Math.floor(next() * limiters.length)]!;
      const tenantId = `t${Math.floor(next() * 4)}`;
      const r = next();
      if (r < 0.75) await limiter.consume(tenantId, { cost: 1 + Math.floor(next() * limiter.capacity) });
      else if (r < 0.9) await limiter.peek(tenantId);
      else await limiter.reset(tenantId);
    }
    const keys = await keysMatching(redis, `${prefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    // The sliding-window counter lives until the end of the bucket after the current one.
    const longest = algorithm === 'sliding-window' ? 60_000 : 30_000;
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect({ key, ttl: ttl > 0 && ttl <= longest }).toEqual({ key, ttl: true });
    }
  });
});

it('fixed-window gives a key left without TTL by older code its TTL on the next call', async () => {
  const limiter = limiterFor({ limit: 2, windowSeconds: 20 });
  await redis.set(limiter.key('t1'), '5'); // the naive INCR that died before its EXPIRE
  expect((await limiter.consume('t1')).allowed).toBe(false);
  const ttl = await redis.pttl(limiter.key('t1'));
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(20_000);
});

describe('key prefix', () => {
  const saved = process.env.REDIS_KEY_PREFIX;
  afterEach(() => {
    if (saved === undefined) delete process.env.REDIS_KEY_PREFIX;
    else process.env.REDIS_KEY_PREFIX = saved;
  });

  it('puts REDIS_KEY_PREFIX in front of every key; an explicit keyPrefix wins; none keeps the keys as they were', async () => {
    const ns = own(uniquePrefix('ns'));
    const tenantId = uniquePrefix('tenant');
    delete process.env.REDIS_KEY_PREFIX;
    expect(createRateLimiter({ redis, provider: 'semrush', limit: 1, windowSeconds: 60 }).key(tenantId)).toBe(`ratelimit:${tenantId}:semrush`);
    expect(createConcurrencyLimiter({ redis, provider: 'semrush', maxInFlight: 1 }).key(tenantId)).toBe(`ratelimit:${tenantId}:semrush:inflight`);

    process.env.REDIS_KEY_PREFIX = ns;
    const limiter = createRateLimiter({ redis, provider: 'semrush', limit: 1, windowSeconds: 60 });
    expect(limiter.key(tenantId)).toBe(`${ns}:ratelimit:${tenantId}:semrush`);
    expect((await limiter.consume(tenantId)).allowed).toBe(true);
    expect(await redis.get(`${ns}:ratelimit:${tenantId}:semrush`)).toBe('1');
    expect(await redis.exists(`ratelimit:${tenantId}:semrush`)).toBe(0);
    const pool = createConcurrencyLimiter({ redis, provider: 'semrush', maxInFlight: 1 });
    const { lease } = await pool.acquire(tenantId);
    expect(await redis.zcard(`${ns}:ratelimit:${tenantId}:semrush:inflight`)).toBe(1);
    await lease!.release();
    const limits = defineProviderLimits({ semrush: { limit: 1, windowSeconds: 60 } }, { redis });
    expect(limits.limiter('semrush').key(tenantId)).toBe(`${ns}:ratelimit:${tenantId}:semrush`);

    expect(createRateLimiter({ redis, provider: 'semrush', limit: 1, windowSeconds: 60, keyPrefix: '' }).key(tenantId)).toBe(`ratelimit:${tenantId}:semrush`);
    expect(createRateLimiter({ redis, provider: 'semrush', limit: 1, windowSeconds: 60, keyPrefix: 'other' }).key(tenantId)).toBe(`other:ratelimit:${tenantId}:semrush`);
    expect(() => createRateLimiter({ redis, provider: 'semrush', limit: 1, windowSeconds: 60, keyPrefix: 'a:b' })).toThrow(/keyPrefix/);
  });
});

describe('keys and validation', () => {
  it('builds keys with redisKey, so ":" in a part cannot collide', () => {
    const limiter = createRateLimiter({ redis, provider: 'openai', limit: 1, windowSeconds: 1 });
    expect(limiter.key('a.b@c-d_e')).toBe(redisKey('ratelimit', 'a.b@c-d_e', 'openai'));
    // Tenant "a:b" with provider "c" and tenant "a" with provider "b:c" would collide in a naive
    // template; both are refused before Redis is touched.
    expect(() => limiter.key('a:b')).toThrow(InvalidArgumentError);
    expect(() => createRateLimiter({ redis, provider: 'b:c', limit: 1, windowSeconds: 1 })).toThrow(InvalidArgumentError);
    // A custom prefix with a colon is escaped, so it stays one part.
    const custom = createRateLimiter({ redis, provider: 'openai', prefix: 'svc:rl', limit: 1, windowSeconds: 1 });
    expect(custom.key('t1')).toBe(redisKey('svc:rl', 't1', 'openai'));
    expect(custom.key('t1')).toBe('svc%3Arl:t1:openai');
  });

  it('rejects bad tenant ids and costs before touching Redis', async () => {
    const calls: string[] = [];
    const spy = { evalsha: (...args: unknown[]) => calls.push(String(args[0])), eval: () => calls.push('eval'), del: () => calls.push('del') };
    const limiter = createRateLimiter({ redis: spy as never, provider: 'semrush', limit: 5, windowSeconds: 10 });
    await expect(limiter.consume('a:b')).rejects.toThrow(InvalidArgumentError);
    await expect(limiter.consume('')).rejects.toThrow(InvalidArgumentError);
    await expect(limiter.consume('t1', { cost: 6 })).rejects.toThrow(/cost/);
    await expect(limiter.consume('t1', { cost: 0 })).rejects.toThrow(/cost/);
    await expect(limiter.consume('t1', { cost: 1.5 })).rejects.toThrow(/cost/);
    await expect(limiter.reset('a b')).rejects.toThrow(InvalidArgumentError);
    expect(calls).toEqual([]);
  });

  it('rejects bad options with a message naming them', () => {
    expect(() => createRateLimiter({ redis, provider: 'p', limit: 0, windowSeconds: 1 })).toThrow(/^limit: /);
    expect(() => createRateLimiter({ redis, provider: 'p', limit: 1, windowSeconds: 0 })).toThrow(/^windowSeconds: /);
    expect(() => createRateLimiter({ redis, provider: 'p', limit: 1, windowSeconds: 1, algorithm: 'leaky' as never })).toThrow(/^algorithm: /);
    expect(() => createRateLimiter({ redis, provider: 'p', limit: 1, windowSeconds: 1, burst: 3 })).toThrow(/^burst: /);
    expect(() => createRateLimiter({ redis, provider: '', limit: 1, windowSeconds: 1 })).toThrow(/^provider: /);
  });
});

describe('in-process short-circuit', () => {
  function counting() {
    let evalshas = 0;
    const client = {
      evalsha: (...args: Parameters<typeof redis.evalsha>) => {
        evalshas++;
        return redis.evalsha(...args);
      },
      eval: (...args: Parameters<typeof redis.eval>) => redis.eval(...args),
      del: (...args: Parameters<typeof redis.del>) => redis.del(...args),
    } as unknown as LimiterClient;
    return { client, count: () => evalshas };
  }

  it('refuses locally until the known reopen time, without a Redis call', async () => {
    const { client, count } = counting();
    const prefix = own(uniquePrefix('rl'));
    const limiter = createRateLimiter({ redis: client, provider: 'semrush', prefix, limit: 2, windowSeconds: 30 });
    await limiter.consume('t1');
    await limiter.consume('t1');
    const refused = await limiter.consume('t1');
    expect(refused.allowed).toBe(false);
    const before = count();
    for (let i = 0; i < 20; i++) {
      const local = await limiter.consume('t1');
      expect(local.allowed).toBe(false);
      expect(local.retryAfterMs).toBeGreaterThan(0);
      expect(local.retryAfterMs).toBeLessThanOrEqual(refused.retryAfterMs);
    }
    expect(count()).toBe(before);
    // Another tenant is not affected; reset clears the local memory too.
    expect((await limiter.consume('t2')).allowed).toBe(true);
    await limiter.reset('t1');
    expect((await limiter.consume('t1')).allowed).toBe(true);
  });

  it.each(RATE_LIMIT_ALGORITHMS)('%s: every local refusal is one Redis would give too, with the same result shape, and ends at the reopen time', async (algorithm) => {
    const { client, count } = counting();
    const prefix = own(uniquePrefix('rl'));
    // A short window so the reopen time comes within the test; cost 2 on a capacity of 3.
    const limiter = createRateLimiter({ redis: client, provider: 'semrush', prefix, limit: 3, windowSeconds: 1, algorithm });
    const twin = createRateLimiter({ redis, provider: 'semrush', prefix, limit: 3, windowSeconds: 1, algorithm, shortCircuit: false });
    expect((await limiter.consume('t1', { cost: 2 })).allowed).toBe(true);
    const refused = await limiter.consume('t1', { cost: 2 });
    expect(refused.allowed).toBe(false);
    const before = count();
    let local = 0;
    for (;;) {
      const sent = count();
      const result = await limiter.consume('t1', { cost: 2 });
      if (count() !== sent) {
        // Asked Redis again only once the remembered reopen time had passed: allowed, or (when the
        // reply's own latency made the local clock run ahead) refused for a last few ms.
        if (result.allowed) break;
        expect(result.retryAfterMs).toBeLessThan(100);
        continue;
      }
      local++;
      expect(Object.keys(result).sort()).toEqual(Object.keys(refused).sort());
      expect(result).toMatchObject({ allowed: false, remaining: refused.remaining, resetAt: refused.resetAt });
      expect(result.retryAfterMs).toBeGreaterThan(0);
      // Redis, asked without the cache at the same moment, refuses as well (it never counted
      // anything). The local reopen time is later than Redis's by the reply's latency, so compare
      // while it is clearly ahead.
      if (result.retryAfterMs > 100) expect((await twin.peek('t1', { cost: 2 })).allowed).toBe(false);
      await sleep(5);
    }
    expect(local).toBeGreaterThan(10);
    expect(count()).toBeGreaterThan(before);
  });

  it('only caches refusals: a smaller cost still asks Redis', async () => {
    const { client, count } = counting();
    const prefix = own(uniquePrefix('rl'));
    const limiter = createRateLimiter({ redis: client, provider: 'semrush', prefix, limit: 5, windowSeconds: 30, algorithm: 'sliding-window' });
    await limiter.consume('t1', { cost: 3 });
    expect((await limiter.consume('t1', { cost: 3 })).allowed).toBe(false);
    const before = count();
    expect((await limiter.consume('t1', { cost: 4 })).allowed).toBe(false); // local
    expect(count()).toBe(before);
    expect(await limiter.consume('t1', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
    expect(count()).toBe(before + 1);
  });

  it('is off with shortCircuit: false', async () => {
    const { client, count } = counting();
    const prefix = own(uniquePrefix('rl'));
    const limiter = createRateLimiter({ redis: client, provider: 'semrush', prefix, limit: 1, windowSeconds: 30, shortCircuit: false });
    await limiter.consume('t1');
    await limiter.consume('t1');
    const before = count();
    await limiter.consume('t1');
    expect(count()).toBe(before + 1);
  });

  it('forgets a refusal whose reply arrives while a reset is under way: after reset, the next call asks Redis', async () => {
    const limiter = limiterFor({ limit: 1, windowSeconds: 30, batching: false });
    await limiter.consume('t1');
    // Sent before the reset (no batching: at once), refused, answered after reset cleared the memory.
    const refusal = limiter.consume('t1');
    const reset = limiter.reset('t1');
    expect((await refusal).allowed).toBe(false);
    await reset;
    expect(await redis.exists(limiter.key('t1'))).toBe(0);
    expect((await limiter.consume('t1')).allowed).toBe(true);
  });

  it('never lets more than limit through while many calls race', async () => {
    const limiter = limiterFor({ limit: 7, windowSeconds: 30 });
    const results = await Promise.all(Array.from({ length: 60 }, () => limiter.consume('t1')));
    const later = await Promise.all(Array.from({ length: 20 }, () => limiter.consume('t1')));
    expect([...results, ...later].filter((r) => r.allowed)).toHaveLength(7);
  });
});

describe('a node batch entry that another node must decide', () => {
  it("is a non-local key or a cluster code as a whole word, not a word that contains one", () => {
    for (const message of [
      'ERR Script attempted to access a non local key in a cluster node script: f_1, on @user_script:12.',
      'MOVED 3999 127.0.0.1:7002',
      'ASK 3999 127.0.0.1:7002',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
    ]) {
      expect([message, isNotServedHere(message)]).toEqual([message, true]);
    }
    for (const message of ['OOM command not allowed when used memory > maxmemory', 'ERR TASK limit reached', 'ERR key was REMOVED', 'ERR MASKED value']) {
      expect([message, isNotServedHere(message)]).toEqual([message, false]);
    }
  });
});
