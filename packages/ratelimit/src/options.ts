import { checkNumber } from '@platform/redis';

/** The rate limiting algorithms. See the README for what each guarantees. */
export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window' | 'sliding-log' | 'token-bucket';

/** The algorithms, in the order the README describes them. */
export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ['fixed-window', 'sliding-window', 'sliding-log', 'token-bucket'];

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

/**
 * `options` with each option left `undefined` replaced by its default (an explicit `undefined`
 * counts as unset, as it does for destructuring defaults).
 */
export function withDefaults<O extends object, K extends keyof O>(
  options: O,
  defaults: { readonly [P in K]-?: NonNullable<O[P]> },
): O & { [P in K]-?: NonNullable<O[P]> } {
  const resolved = { ...options } as Record<string, unknown>;
  for (const [name, value] of Object.entries(defaults)) resolved[name] ??= value;
  return resolved as O & { [P in K]-?: NonNullable<O[P]> };
}

/** Window in whole ms from `windowSeconds` (fractions allowed, at least 1 ms, at most 366 days). */
export function windowMsOf(windowSeconds: unknown): number {
  return Math.round(checkNumber('windowSeconds', windowSeconds, 0.001, 366 * 86400) * 1000);
}
