import { ConfigError, InvalidArgumentError } from '@platform/redis';
import { createRateLimiter, defineProviderLimits, RateLimitError } from './index';
import { testRedis } from './test-helpers';

const { redis, prefix } = testRedis();

const plans = new Map([['tenant-pro', 'pro']]);

function limits() {
  return defineProviderLimits(
    {
      semrush: { limit: 2, windowSeconds: 60 },
      openai: { limit: 60, windowSeconds: 60, algorithm: 'token-bucket', burst: 3 },
    },
    { redis, prefix, tiers: { pro: { semrush: { limit: 4 } } }, tierOf: (tenantId) => plans.get(tenantId) },
  );
}

describe('defineProviderLimits', () => {
  it('returns a limiter per provider with the declared limits', () => {
    const defined = limits();
    expect(defined.providers).toEqual(['semrush', 'openai']);
    expect(defined.limiters.semrush).toMatchObject({ provider: 'semrush', limit: 2, windowSeconds: 60, algorithm: 'fixed-window' });
    expect(defined.limiters.openai).toMatchObject({ provider: 'openai', algorithm: 'token-bucket', capacity: 3 });
  });

  it('applies a tier override to that tier only, on the same key', async () => {
    const defined = limits();
    expect(defined.limiter('semrush', 'tenant-pro').limit).toBe(4);
    expect(defined.limiter('semrush', 'tenant-pro').windowSeconds).toBe(60);
    expect(defined.limiter('semrush', 'tenant-free').limit).toBe(2);
    expect(defined.limiter('semrush', 'tenant-pro').key('tenant-pro')).toBe(`${prefix}:tenant-pro:semrush`);

    const run = (tenantId: string) => defined.withRateLimit(tenantId, 'semrush', () => 'ok').catch((e: unknown) => e);
    const free = [await run('tenant-free'), await run('tenant-free'), await run('tenant-free')];
    expect(free.slice(0, 2)).toEqual(['ok', 'ok']);
    expect(free[2]).toBeInstanceOf(RateLimitError);
    const pro = [];
    for (let i = 0; i < 5; i++) pro.push(await run('tenant-pro'));
    expect(pro.filter((r) => r === 'ok')).toHaveLength(4);
    expect((await defined.consume('tenant-free', 'openai')).allowed).toBe(true);
  });

  it('refuses bad declarations at definition time', () => {
    expect(() => defineProviderLimits({ 'a:b': { limit: 1, windowSeconds: 1 } }, { redis })).toThrow(InvalidArgumentError);
    expect(() => defineProviderLimits({ semrush: { limit: 0, windowSeconds: 1 } }, { redis })).toThrow(/limit/);
    expect(() =>
      defineProviderLimits({ semrush: { limit: 1, windowSeconds: 1 } }, { redis, tiers: { pro: { openai: { limit: 5 } } as never } }),
    ).toThrow(/undeclared provider "openai"/);
    expect(() =>
      defineProviderLimits({ semrush: { limit: 1, windowSeconds: 1 } }, { redis, tiers: { pro: { semrush: { algorithm: 'sliding-window' } } } }),
    ).toThrow(/cannot change the algorithm/);
  });

  it('refuses a provider that is not declared, even one named like an Object property, with a rejected promise', async () => {
    const defined = limits();
    for (const provider of ['nope', 'toString', 'constructor', '__proto__'] as never[]) {
      let consumed: Promise<unknown> | undefined;
      expect(() => (consumed = defined.consume('t1', provider))).not.toThrow();
      await expect(consumed).rejects.toThrow(InvalidArgumentError);
      let ran: Promise<unknown> | undefined;
      expect(() => (ran = defined.withRateLimit('t1', provider, () => 'ok'))).not.toThrow();
      await expect(ran).rejects.toThrow(InvalidArgumentError);
      expect(() => defined.limiter(provider)).toThrow(InvalidArgumentError);
    }
    expect(() =>
      defineProviderLimits({ semrush: { limit: 1, windowSeconds: 1 } }, { redis, tiers: { pro: { toString: { limit: 5, windowSeconds: 1 } } as never } }),
    ).toThrow(/undeclared provider "toString"/);
    // A declared provider named like an Object property, for a tenant on a tier that leaves it as it is.
    const named = defineProviderLimits(
      { constructor: { limit: 1, windowSeconds: 1 }, semrush: { limit: 1, windowSeconds: 1 } },
      { redis, prefix, tiers: { pro: { semrush: { limit: 2 } } } as never, tierOf: () => 'pro' },
    );
    expect(named.limiter('constructor', 't1')).toBe(named.limiters.constructor);
    expect((await named.consume('t1', 'constructor')).allowed).toBe(true);
  });

  it('names an unknown tier', () => {
    const defined = defineProviderLimits({ semrush: { limit: 1, windowSeconds: 1 } }, { redis, tierOf: () => 'enterprise' });
    expect(() => defined.limiter('semrush', 't1')).toThrow(/unknown tier "enterprise"/);
  });
});

it('explains a key that holds another algorithm state instead of a bare WRONGTYPE', async () => {
  const fixed = createRateLimiter({ redis, prefix, provider: 'switched', limit: 3, windowSeconds: 10 });
  const sliding = createRateLimiter({ redis, prefix, provider: 'switched', limit: 3, windowSeconds: 10, algorithm: 'sliding-log' });
  await fixed.consume('t1');
  const error = await sliding.consume('t1').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(/another algorithm/);
  expect(await redis.pttl(fixed.key('t1'))).toBeGreaterThan(0);
});

it("explains a fixed-window key that holds a token bucket's state (not an integer) with the same ConfigError, for single and batched calls", async () => {
  const bucket = createRateLimiter({ redis, prefix, provider: 'switched-tb', limit: 3, windowSeconds: 10, algorithm: 'token-bucket' });
  const fixed = createRateLimiter({ redis, prefix, provider: 'switched-tb', limit: 3, windowSeconds: 10 });
  await bucket.consume('t1');
  const state = await redis.get(bucket.key('t1'));
  const alone = await fixed.consume('t1').catch((e: unknown) => e);
  expect(alone).toBeInstanceOf(ConfigError);
  expect((alone as Error).message).toMatch(/another algorithm/);
  const batched = await Promise.all([fixed.consume('t1'), fixed.consume('t2')].map((p) => p.catch((e: unknown) => e)));
  expect(batched[0]).toBeInstanceOf(ConfigError);
  expect(batched[1]).toMatchObject({ allowed: true });
  expect(await redis.get(bucket.key('t1'))).toBe(state);
});
