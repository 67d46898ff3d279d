import { InvalidArgumentError } from '@platform/redis';
import { backoffFor, backoffOf, defaultRetryPolicy, resolveRetryPolicy, retryDelayMs, retrySpanMs } from './retry';

const HOUR = 3_600_000;

describe('retry policy', () => {
  it('the default spans at least 6 hours even when every delay draws its lowest value', () => {
    const policy = resolveRetryPolicy('email', 'welcome');
    expect(policy).toEqual({ ...defaultRetryPolicy, expireAfterMs: undefined });
    const span = retrySpanMs(policy);
    expect(span.min).toBeGreaterThanOrEqual(6 * HOUR);
    expect(span.max).toBeLessThanOrEqual(8.25 * HOUR);
  });

  it('delays grow exponentially, are capped per step, and carry jitter', () => {
    const policy = { delayMs: 1000, maxDelayMs: 10_000, jitter: 0.2 };
    expect(retryDelayMs(policy, 1, () => 0)).toBe(1000);
    expect(retryDelayMs(policy, 3, () => 0)).toBe(4000);
    expect(retryDelayMs(policy, 10, () => 0)).toBe(10_000);
    expect(retryDelayMs(policy, 10, () => 1)).toBe(8000);
    expect(retryDelayMs(policy, 200, () => 0)).toBe(10_000);
    const drawn = new Set(Array.from({ length: 50 }, () => retryDelayMs(policy, 2)));
    expect(drawn.size).toBeGreaterThan(1);
    for (const d of drawn) expect(d).toBeGreaterThanOrEqual(1600);
  });

  it('resolves defaults, then the options, then the channel, then the type', () => {
    const options = {
      attempts: 10,
      byChannel: { sms: { attempts: 5, maxDelayMs: 60_000 } },
      byType: { 'password-reset': { attempts: 3, expireAfterMs: 15 * 60_000 } },
    };
    expect(resolveRetryPolicy('email', 'welcome', options)).toMatchObject({ attempts: 10, maxDelayMs: defaultRetryPolicy.maxDelayMs, expireAfterMs: undefined });
    expect(resolveRetryPolicy('sms', 'welcome', options)).toMatchObject({ attempts: 5, maxDelayMs: 60_000 });
    expect(resolveRetryPolicy('sms', 'password-reset', options)).toMatchObject({ attempts: 3, maxDelayMs: 60_000, expireAfterMs: 900_000 });
  });

  it('refuses bad values with InvalidArgumentError naming them', () => {
    const bad: unknown[] = [
      { attempts: 0 },
      { attempts: 1.5 },
      { delayMs: -1 },
      { jitter: 2 },
      { expireAfterMs: 0 },
      { attempt: 3 },
      { byChannel: { pigeon: {} } },
      { byType: { x: { attempts: 'many' } } },
    ];
    for (const options of bad) expect(() => resolveRetryPolicy('email', 'x', options as never)).toThrow(InvalidArgumentError);
    expect(() => resolveRetryPolicy('email', 'x', { byType: { x: { attempts: 'many' } } } as never)).toThrow(/retry\.byType\.x\.attempts/);
  });

  it('a job carries its policy in opts.backoff, expiry counted from when it was queued', () => {
    const policy = resolveRetryPolicy('email', 'x', { expireAfterMs: 1000 });
    const backoff = backoffFor(policy, 5000);
    expect(backoff).toEqual({ type: 'notification', delay: 5000, maxDelay: 1_800_000, jitter: 0.2, expireAt: 6000 });
    expect(backoffOf({ backoff })).toEqual({ delay: 5000, maxDelay: 1_800_000, jitter: 0.2, expireAt: 6000 });
    expect(backoffOf({ backoff: { type: 'exponential', delay: 5 } })).toEqual({});
    // The dedupe window, for the status record the worker creates, when it is not the default.
    expect(backoffFor(policy, 5000, 120_000)).toEqual({ ...backoff, statusTtl: 120_000 });
    expect(backoffOf({ backoff: backoffFor(policy, 5000, 120_000) })).toMatchObject({ statusTtl: 120_000 });
    expect(backoffOf({ backoff: { ...backoff, statusTtl: -1 } })).not.toHaveProperty('statusTtl');
  });
});
