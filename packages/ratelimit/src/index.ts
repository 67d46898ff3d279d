// Public surface of @platform/ratelimit.
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
  rateLimitKey,
  concurrencyKey,
  assertProviderName,
  PROVIDER_NAME_PATTERN,
  DEFAULT_KEY_PREFIX,
} from './keys';
export {
  defaultRateLimiterOptions,
  defaultConcurrencyLimiterOptions,
  RATE_LIMIT_ALGORITHMS,
  type RateLimitAlgorithm,
} from './options';
export { ratelimitScripts } from './scripts';
