import { createRateLimiter } from './index';
import { sleep, testRedis, timedConsume, type TimedResult } from './test-helpers';

const { redis, prefix } = testRedis();

// 10 tokens per second (one per 100 ms), at most 4 at once.
const RATE_PER_S = 10;
const BURST = 4;

function bucket(provider: string) {
  return createRateLimiter({ redis, provider, prefix, limit: RATE_PER_S, windowSeconds: 1, algorithm: 'token-bucket', burst: BURST, shortCircuit: false });
}

describe('token bucket', () => {
  it('honours the burst on a full bucket, then refuses with the time to the next token', async () => {
    const limiter = bucket('burst');
    const results: TimedResult[] = [];
    // Calls until the first refusal: on a loaded machine tokens may arrive between calls, so a
    // fixed number of calls could all pass (the bound below still holds for every call made).
    do results.push(await timedConsume(redis, limiter, 't1'));
    while (results.length < 7 || (results.at(-1)!.allowed && results.length < 200));
    const allowed = results.filter((r) => r.allowed).length;
    // The first BURST calls pass; more only if a token arrived meanwhile.
    const elapsedS = (results.at(-1)!.after - results[0]!.before) / 1e6;
    expect(results.slice(0, BURST).every((r) => r.allowed)).toBe(true);
    expect(allowed).toBeLessThanOrEqual(BURST + Math.floor(RATE_PER_S * elapsedS));
    const refused = results.find((r) => !r.allowed)!;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1000 / RATE_PER_S);
    expect(refused.remaining).toBe(0);
    // Waiting the advertised time is enough (we are the only consumer).
    await sleep(refused.retryAfterMs + 5);
    expect((await limiter.consume('t1')).allowed).toBe(true);
  });

  it('counts remaining tokens exactly when a token takes a fractional number of µs', async () => {
    // 7 tokens per 3 s: one per 428571.43 µs, far slower than these calls, so none arrives meanwhile.
    for (const [limit, windowSeconds] of [[7, 3], [6, 7], [13, 7]] as const) {
      const limiter = createRateLimiter({ redis, provider: `frac-${limit}-${windowSeconds}`, prefix, limit, windowSeconds, algorithm: 'token-bucket', shortCircuit: false });
      expect((await limiter.peek('t1')).remaining).toBe(limit);
      const remaining: number[] = [];
      for (let i = 0; i < limit; i++) remaining.push((await limiter.consume('t1')).remaining);
      expect(remaining).toEqual(Array.from({ length: limit }, (_, i) => limit - 1 - i));
      expect((await limiter.peek('t1')).allowed).toBe(false);
    }
  });

  it('moves the bucket by exactly cost x interval per call, whatever the fraction of a µs (no rounding drift)', async () => {
    // 98,814 tokens per second: one per 10.12 µs. The bucket is put 5 s in debt (of 10 s it may
    // owe), so every call is allowed and moves the stored time from a known start, whatever the clock.
    const limit = 98_814;
    const interval = 1e6 / limit;
    const limiter = createRateLimiter({ redis, provider: 'drift', prefix, limit, windowSeconds: 1, algorithm: 'token-bucket', burst: limit * 10, shortCircuit: false });
    const key = limiter.key('t1');
    const [seconds] = await redis.time();
    const start = (Number(seconds) + 5) * 1e6;
    await redis.set(key, `${start}.000`, 'PX', 60_000);
    const calls = 200;
    const results = await Promise.all(Array.from({ length: calls }, () => limiter.consume('t1')));
    expect(results.every((r) => r.allowed)).toBe(true);
    const [whole, fraction = '0'] = (await redis.get(key))!.split('.');
    const moved = Number(whole) - start + Number(`0.${fraction}`);
    // Rounded to 0.25 µs per call, 10.12 µs became 10 µs: 1.2 % more calls than the rate.
    expect(Math.abs(moved - calls * interval)).toBeLessThan(1);
  });

  it('refills at the configured rate', async () => {
    const limiter = bucket('refill');
    let last: TimedResult;
    do last = await timedConsume(redis, limiter, 't1');
    while (last.allowed);
    const emptyAt = last.before; // the bucket held less than one token at this Redis time
    await sleep(350);
    const burst: TimedResult[] = [];
    for (let i = 0; i < BURST + 2; i++) burst.push(await timedConsume(redis, limiter, 't1'));
    const allowed = burst.filter((r) => r.allowed).length;
    // At least 3 tokens came in 350 ms; never more than rate x elapsed (plus the partial token).
    expect(allowed).toBeGreaterThanOrEqual(3);
    expect(allowed).toBeLessThanOrEqual(Math.min(BURST, Math.floor(1 + (RATE_PER_S * (burst.at(-1)!.after - emptyAt)) / 1e6)));
  });

  it('never allows more than burst + rate x interval in any interval of a steady stream', async () => {
    const limiter = bucket('steady');
    const results: TimedResult[] = [];
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      results.push(await timedConsume(redis, limiter, 't1'));
      await sleep(10);
    }
    const allowed = results.filter((r) => r.allowed);
    expect(allowed.length).toBeGreaterThan(BURST);
    for (let i = 0; i < allowed.length; i++) {
      for (let j = i; j < allowed.length; j++) {
        const spanS = (allowed[j]!.after - allowed[i]!.before) / 1e6;
        expect(j - i + 1).toBeLessThanOrEqual(BURST + Math.floor(RATE_PER_S * spanS));
      }
    }
  });

  it('takes cost tokens at once and reports the wait for that many', async () => {
    const limiter = bucket('cost');
    expect(await limiter.consume('t1', { cost: 3 })).toMatchObject({ allowed: true, remaining: 1 });
    const refused = await limiter.consume('t1', { cost: 3 });
    expect(refused.allowed).toBe(false);
    // Two more tokens are needed: at most 200 ms away.
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
    await expect(limiter.consume('t1', { cost: BURST + 1 })).rejects.toThrow(/cost/);
  });
});
