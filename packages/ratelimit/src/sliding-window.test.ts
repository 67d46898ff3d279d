import { InvalidArgumentError } from '@platform/redis';
import { createRateLimiter, type RateLimitAlgorithm } from './index';
import { sleep, testRedis, timedConsume, type TimedResult } from './test-helpers';

const { redis, prefix } = testRedis();

const LIMIT = 5;
const WINDOW_MS = 1000;

/**
 * One call, a burst late in the window, a burst just after the first call's window ends, then a
 * steady stream: the pattern that lets a fixed window through twice its limit across the edge.
 */
async function edgeScenario(algorithm: RateLimitAlgorithm): Promise<TimedResult[]> {
  const limiter = createRateLimiter({ redis, provider: algorithm, prefix, limit: LIMIT, windowSeconds: WINDOW_MS / 1000, algorithm, shortCircuit: false });
  const results: TimedResult[] = [];
  const started = Date.now();
  results.push(await timedConsume(redis, limiter, 't1'));
  await sleep(700);
  for (let i = 0; i < 8; i++) results.push(await timedConsume(redis, limiter, 't1'));
  await sleep(Math.max(0, started + WINDOW_MS + 50 - Date.now()));
  for (let i = 0; i < 8; i++) results.push(await timedConsume(redis, limiter, 't1'));
  const until = Date.now() + WINDOW_MS;
  while (Date.now() < until) {
    results.push(await timedConsume(redis, limiter, 't1'));
    await sleep(20);
  }
  return results;
}

/**
 * Pairs of allowed calls `limit` apart that Redis may have decided less than one window apart:
 * each such pair is `limit + 1` calls inside one window-length interval.
 */
function violations(results: TimedResult[], most = LIMIT): Array<{ from: number; to: number; spanMs: number }> {
  const allowed = results.filter((r) => r.allowed);
  const found: Array<{ from: number; to: number; spanMs: number }> = [];
  for (let j = most; j < allowed.length; j++) {
    // Upper bound of the time between the two decisions.
    const span = allowed[j]!.after - allowed[j - most]!.before;
    if (span < WINDOW_MS * 1000) found.push({ from: j - LIMIT, to: j, spanMs: span / 1000 });
  }
  return found;
}

describe('sliding log across a window edge', () => {
  it('never allows more than limit in any window-length interval', async () => {
    const results = await edgeScenario('sliding-log');
    // The check must have had something to check: calls were allowed in more than one window.
    expect(results.filter((r) => r.allowed).length).toBeGreaterThan(LIMIT + 1);
    expect(violations(results)).toEqual([]);
    // Just after the edge at most the first call's slot had freed up (a fixed window allows 5).
    const afterEdge = results.slice(9, 17);
    expect(afterEdge.filter((r) => r.allowed).length).toBeLessThanOrEqual(1);
  });

  it('the same check catches the fixed window double burst (so it can fail)', async () => {
    const results = await edgeScenario('fixed-window');
    expect(violations(results).length).toBeGreaterThan(0);
  });

  it('reports retryAfterMs as the time until the oldest counted call leaves the window', async () => {
    const limiter = createRateLimiter({ redis, provider: 'retry', prefix, limit: 2, windowSeconds: 2, algorithm: 'sliding-log', shortCircuit: false });
    const first = await timedConsume(redis, limiter, 't1');
    const second = await timedConsume(redis, limiter, 't1');
    const refused = await timedConsume(redis, limiter, 't1');
    expect(refused.allowed).toBe(false);
    // The oldest call leaves at first + 2 s; the refusal was decided after refused.before.
    const upper = Math.ceil((first.after + 2e6 - refused.before) / 1000);
    const lower = Math.floor((first.before + 2e6 - refused.after) / 1000);
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(lower);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(upper);
    // Two units fit again only when both calls have left the window.
    const before = await redis.time();
    const cost2 = await limiter.peek('t1', { cost: 2 });
    const after = await redis.time();
    const [b, a] = [before, after].map((t) => Number(t[0]) * 1e6 + Number(t[1])) as [number, number];
    expect(cost2.allowed).toBe(false);
    expect(cost2.retryAfterMs).toBeGreaterThanOrEqual(Math.floor((second.before + 2e6 - a) / 1000));
    expect(cost2.retryAfterMs).toBeLessThanOrEqual(Math.ceil((second.after + 2e6 - b) / 1000));
  });
});

describe('sliding window counter', () => {
  const M = 2 ** 26;
  const WINDOW = 60_000;
  const counter = (provider: string) =>
    createRateLimiter({ redis, provider, prefix, limit: 10, windowSeconds: WINDOW / 1000, algorithm: 'sliding-window', shortCircuit: false });

  it('weights the previous bucket by the part of it still inside the window', async () => {
    const limiter = counter('weighted');
    // Previous bucket 10 calls, current 0, half-way through the current bucket (the key expires at
    // the end of the next bucket, so PTTL 1.5 windows means 0.5 window elapsed): estimate 5.
    await redis.set(limiter.key('t1'), String(10 * M), 'PX', 1.5 * WINDOW);
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await limiter.consume('t1'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(results[4]!.remaining).toBe(0);
    // Refused at estimate 10 (5 weighted + 5): one unit fits when the weighted part falls to 4,
    // i.e. 0.1 window later.
    expect(results[5]!.retryAfterMs).toBeGreaterThan(0.1 * WINDOW - 1000);
    expect(results[5]!.retryAfterMs).toBeLessThanOrEqual(0.1 * WINDOW);
    // The counter is one integer, previous * 2^26 + current, and keeps its expiry.
    expect(Number(await redis.get(limiter.key('t1')))).toBe(10 * M + 5);
    const ttl = await redis.pttl(limiter.key('t1'));
    expect(ttl).toBeGreaterThan(1.5 * WINDOW - 1000);
    expect(ttl).toBeLessThanOrEqual(1.5 * WINDOW);
  });

  it('moves the current bucket to the previous one when it ends', async () => {
    const limiter = counter('rollover');
    // Current bucket of 8 calls ended a quarter window ago: previous 8 weighted 0.75 = 6, so 4 fit.
    await redis.set(limiter.key('t1'), String(8), 'PX', 0.75 * WINDOW);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await limiter.consume('t1'));
    expect(results.filter((r) => r.allowed)).toHaveLength(4);
    expect(Number(await redis.get(limiter.key('t1')))).toBe(8 * M + 4);
    expect(await redis.pttl(limiter.key('t1'))).toBeGreaterThan(1.75 * WINDOW - 1000);
    // A full current bucket waits into the next bucket: 10 fit only when 10 * weight + 1 <= 10.
    const full = counter('full');
    for (let i = 0; i < 10; i++) expect((await full.consume('t1')).allowed).toBe(true);
    const refused = await full.consume('t1');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(1.1 * WINDOW - 1000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1.1 * WINDOW);
    expect(refused.resetAt - Date.now()).toBeGreaterThan(1.9 * WINDOW);
  });

  it('peek agrees with consume and takes nothing', async () => {
    const limiter = counter('peek');
    await redis.set(limiter.key('t1'), String(10 * M + 2), 'PX', 1.5 * WINDOW);
    expect(await limiter.peek('t1', { cost: 3 })).toMatchObject({ allowed: true, remaining: 3 });
    expect(await limiter.peek('t1', { cost: 4 })).toMatchObject({ allowed: false, remaining: 3 });
    expect(Number(await redis.get(limiter.key('t1')))).toBe(10 * M + 2);
    expect(await limiter.consume('t1', { cost: 4 })).toMatchObject({ allowed: false, remaining: 3 });
    expect(await limiter.consume('t1', { cost: 3 })).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('stays within its documented bound across an edge: under 2 x limit per window, fewer than the fixed window just after it', async () => {
    const results = await edgeScenario('sliding-window');
    expect(results.filter((r) => r.allowed).length).toBeGreaterThan(LIMIT + 1);
    expect(violations(results, 2 * LIMIT - 1)).toEqual([]);
    const afterEdge = results.slice(9, 17);
    expect(afterEdge.filter((r) => r.allowed).length).toBeLessThanOrEqual(1);
  });

  it('refuses a limit that does not fit its 26-bit counts', () => {
    expect(() => createRateLimiter({ redis, provider: 'big', limit: M, windowSeconds: 1, algorithm: 'sliding-window' })).toThrow(InvalidArgumentError);
    expect(createRateLimiter({ redis, provider: 'big', limit: M, windowSeconds: 1, algorithm: 'sliding-log' }).capacity).toBe(M);
  });
});
