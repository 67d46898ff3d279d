import { spanEvent } from '@platform/telemetry';
import { RateLimitError } from './errors';
import type { ConsumeOptions, RateLimiter } from './rate-limiter';

/**
 * Runs `fn` if the limiter allows one call (of `cost`) for the tenant, else throws
 * {@link RateLimitError} without calling it. Inside a `createWorker` handler, that error delays
 * the job until the window reopens without spending an attempt.
 *
 * @throws RateLimitError when refused; RateLimiterUnavailableError when Redis is unreachable
 *   (unless the limiter was created with `failOpen: true`)
 * @example
 * const report = await withRateLimit(semrush, tenantId, () => semrushClient.domainOverview(domain));
 */
export async function withRateLimit<T>(
  limiter: RateLimiter,
  tenantId: string,
  fn: () => T | Promise<T>,
  options?: ConsumeOptions,
): Promise<T> {
  const result = await limiter.consume(tenantId, options);
  if (!result.allowed) {
    spanEvent('ratelimit.deferred', { 'ratelimit.provider': limiter.provider, 'tenant.id': tenantId, 'ratelimit.limit': limiter.limit, 'ratelimit.retry_after_ms': result.retryAfterMs });
    throw new RateLimitError({
      tenantId,
      provider: limiter.provider,
      limit: limiter.limit,
      windowSeconds: limiter.windowSeconds,
      key: limiter.key(tenantId),
      retryAfterMs: result.retryAfterMs,
      retryAt: Date.now() + result.retryAfterMs,
    });
  }
  return fn();
}
