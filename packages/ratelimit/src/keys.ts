import { InvalidArgumentError, escapeKeyPart, redisKey } from '@platform/redis';

/** The first part of every rate limiter key. */
export const DEFAULT_KEY_PREFIX = 'ratelimit';

/** Provider names: 1-64 characters of `[A-Za-z0-9_.@-]` (no `:`), e.g. `semrush`, `openai.chat`. */
export const PROVIDER_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Throws {@link InvalidArgumentError} unless `provider` is a valid provider name (no `:`). */
export function assertProviderName(provider: unknown, argument = 'provider'): asserts provider is string {
  if (typeof provider !== 'string' || !PROVIDER_NAME_PATTERN.test(provider)) {
    throw new InvalidArgumentError(
      argument,
      `must be 1-64 characters of letters, digits, "_", ".", "@" or "-" (no ":"), got ${JSON.stringify(provider)}`,
    );
  }
}

/** `ratelimit:{tenantId}:{provider}`: the key of a rate limiter (all algorithms). */
export function rateLimitKey(tenantId: string, provider: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  return redisKey(prefix, tenantId, provider);
}

/** `ratelimit:{tenantId}:{provider}:inflight`: the lease set of a concurrency limiter. */
export function concurrencyKey(tenantId: string, provider: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  return redisKey(prefix, tenantId, provider, 'inflight');
}

/**
 * A fast key builder for one provider: tenant ids that passed `assertTenantId` contain nothing
 * `redisKey` escapes, so the key is a concatenation equal to `redisKey(prefix, tenantId, provider, ...suffix)`.
 */
export function keyBuilder(prefix: string, provider: string, ...suffix: string[]): (tenantId: string) => string {
  const head = `${escapeKeyPart(prefix)}:`;
  const tail = `:${[provider, ...suffix].map(escapeKeyPart).join(':')}`;
  return (tenantId) => head + tenantId + tail;
}
