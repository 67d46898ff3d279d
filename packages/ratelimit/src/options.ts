import { InvalidArgumentError, describeValue } from '@platform/redis';

/** The rate limiting algorithms. See the README for what each guarantees. */
export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window' | 'token-bucket';

/** The algorithms, in the order the README describes them. */
export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];

/** Defaults of the limiter options, exported so services can see and reuse them. */
export const defaultRateLimiterOptions = {
  algorithm: 'fixed-window' as RateLimitAlgorithm,
  prefix: 'ratelimit',
  shortCircuit: true,
  failOpen: false,
} as const;

/** Defaults of the concurrency limiter options. */
export const defaultConcurrencyLimiterOptions = {
  leaseMs: 60_000,
  retryAfterMs: 1_000,
  prefix: 'ratelimit',
  failOpen: false,
} as const;

/** Throws InvalidArgumentError unless `value` is an integer from `min` to `max`. */
export function assertInteger(value: unknown, argument: string, min: number, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(argument, `must be an integer ${range}, got ${describeValue(value)}`);
  }
}

/** Window in whole ms from `windowSeconds` (fractions allowed, at least 1 ms). */
export function windowMsOf(windowSeconds: unknown): number {
  if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds < 0.001 || windowSeconds > 366 * 86400) {
    throw new InvalidArgumentError('windowSeconds', `must be a number of seconds from 0.001 to 31622400, got ${describeValue(windowSeconds)}`);
  }
  return Math.round(windowSeconds * 1000);
}
