// Public surface of @platform/ratelimit. Keys and scripts are internal (tests import them from
// their modules).
export {
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
  type ConsumeOptions,
  type LimiterClient,
} from './rate-limiter';
export { withRateLimit } from './with-rate-limit';
export {
  createConcurrencyLimiter,
  withConcurrencyLimit,
  type ConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  type ConcurrencyClient,
  type Lease,
  type AcquireResult,
} from './concurrency';
export { defineProviderLimits, type ProviderLimit, type ProviderLimits, type ProviderLimitsOptions } from './provider-limits';
export { createLimiterConnection, defaultLimiterConnectionOptions } from './connection';
export {
  RateLimitError,
  RateLimiterUnavailableError,
  ConcurrencyLimitError,
  type RateLimitErrorDetails,
  type ConcurrencyLimitErrorDetails,
} from './errors';
export {
  defaultRateLimiterOptions,
  defaultConcurrencyLimiterOptions,
  RATE_LIMIT_ALGORITHMS,
  type RateLimitAlgorithm,
} from './options';
