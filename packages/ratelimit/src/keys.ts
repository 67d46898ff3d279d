import { InvalidArgumentError, describeValue, namespacedKey, redisKey, resolveKeyPrefix } from '@platform/redis';

/** The first part of every rate limiter key. */
export const DEFAULT_KEY_PREFIX = 'ratelimit';

/** Provider names: 1-64 characters of `[A-Za-z0-9_.@-]` (no `:`), e.g. `semrush`, `openai.chat`. */
export const PROVIDER_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Throws InvalidArgumentError unless `provider` is a valid provider name (no `:`). */
export function assertProviderName(provider: unknown, argument = 'provider'): asserts provider is string {
  if (typeof provider !== 'string' || !PROVIDER_NAME_PATTERN.test(provider)) {
    throw new InvalidArgumentError(argument, `must be 1-64 characters of letters, digits, "_", ".", "@" or "-" (no ":"), got ${describeValue(provider)}`);
  }
}

/**
 * `<keyPrefix>:ratelimit:{tenantId}:{provider}` (no `<keyPrefix>:` when it is empty): the key of a
 * rate limiter (all algorithms).
 */
export function rateLimitKey(tenantId: string, provider: string, prefix: string = DEFAULT_KEY_PREFIX, keyPrefix = ''): string {
  return namespacedKey(keyPrefix, prefix, tenantId, provider);
}

/** `<keyPrefix>:ratelimit:{tenantId}:{provider}:inflight`: the lease set of a concurrency limiter. */
export function concurrencyKey(tenantId: string, provider: string, prefix: string = DEFAULT_KEY_PREFIX, keyPrefix = ''): string {
  return namespacedKey(keyPrefix, prefix, tenantId, provider, 'inflight');
}

/**
 * A fast key builder for one provider: tenant ids that passed `assertTenantId` contain nothing
 * `redisKey` escapes, so the key is a concatenation equal to
 * `namespacedKey(keyPrefix, prefix, tenantId, provider, ...suffix)`.
 */
export function keyBuilder(keyPrefix: string, prefix: string, provider: string, ...suffix: string[]): (tenantId: string) => string {
  const head = `${namespacedKey(keyPrefix, prefix)}:`;
  const tail = `:${redisKey(provider, ...suffix)}`;
  return (tenantId) => head + tenantId + tail;
}

/** What every limiter is created with and builds its keys from. */
export interface LimiterKeyOptions {
  redis: unknown;
  provider: unknown;
  prefix: unknown;
  keyPrefix: string | undefined;
}

/**
 * Checks the client, provider and key prefixes every limiter takes (before anything touches Redis),
 * and returns the limiter's key builder (see {@link keyBuilder}).
 */
export function limiterKeys(options: LimiterKeyOptions, ...suffix: string[]): (tenantId: string) => string {
  const { redis, provider, prefix } = options;
  if (typeof redis !== 'object' || redis === null || typeof (redis as { evalsha?: unknown }).evalsha !== 'function') {
    throw new InvalidArgumentError('redis', 'must be an ioredis client');
  }
  assertProviderName(provider);
  if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('prefix', 'must be a non-empty string');
  return keyBuilder(resolveKeyPrefix(options.keyPrefix), prefix, provider, ...suffix);
}
