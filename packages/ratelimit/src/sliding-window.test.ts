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
function violations(results: TimedResult[]): Array<{ from: number; to: number; spanMs: number }> {
  const allowed = results.filter((r) => r.allowed);
  const found: Array<{ from: number; to: number; spanMs: number }> = [];
  for (let j = LIMIT; j < allowed.length; j++) {
    // Upper bound of the time between the two decisions.
    const span = allowed[j]!.after - allowed[j - LIMIT]!.before;
    if (span < WINDOW_MS * 1000) found.push({ from: j - LIMIT, to: j, spanMs: span / 1000 });
  }
  return found;
}

describe('sliding window across a window edge', () => {
  it('never allows more than limit in any window-length interval', async () => {
    const results = await edgeScenario('sliding-window');
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
    const limiter = createRateLimiter({ redis, provider: 'retry', prefix, limit: 2, windowSeconds: 2, algorithm: 'sliding-window', shortCircuit: false });
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
