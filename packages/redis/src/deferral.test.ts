import { DeferJobError, isDeferral } from './deferral';
import { PlatformError } from './errors';

describe('isDeferral', () => {
  it('accepts any error with delayJob true and a finite retryAfterMs >= 0', () => {
    expect(isDeferral(Object.assign(new Error('busy'), { delayJob: true, retryAfterMs: 0 }))).toBe(true);
    expect(isDeferral(Object.assign(new Error('busy'), { delayJob: true, retryAfterMs: 1500 }))).toBe(true);
  });

  it('refuses errors without the flag, with a bad delay, or matched only by name', () => {
    expect(isDeferral(new Error('plain'))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: false, retryAfterMs: 10 }))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: 'yes', retryAfterMs: 10 }))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: true, retryAfterMs: -1 }))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: true, retryAfterMs: Infinity }))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: true, retryAfterMs: NaN }))).toBe(false);
    expect(isDeferral(Object.assign(new Error('x'), { delayJob: true }))).toBe(false);
    // BullMQ has a RateLimitError of its own: a name alone never defers.
    const named = new Error('limited');
    named.name = 'RateLimitError';
    expect(isDeferral(Object.assign(named, { retryAfterMs: 100 }))).toBe(false);
    expect(isDeferral(null)).toBe(false);
    expect(isDeferral('delayJob')).toBe(false);
  });

  it('DeferJobError is a PlatformError that defers with its reason', () => {
    const error = new DeferJobError(250, 'provider-throttled');
    expect(error).toBeInstanceOf(PlatformError);
    expect(error.code).toBe('JOB_DEFERRED');
    expect(isDeferral(error)).toBe(true);
    expect(error.deferralReason).toBe('provider-throttled');
    expect(new DeferJobError(Number.NaN, 'x').retryAfterMs).toBe(0);
  });
});
