import { InvalidArgumentError, assertTenantId, describeValue } from '@platform/redis';
import { assertProviderName } from './keys';
import type { RateLimitAlgorithm } from './options';
import { createRateLimiter, type ConsumeOptions, type LimiterClient, type RateLimiter, type RateLimitResult } from './rate-limiter';
import { withRateLimit } from './with-rate-limit';

/** One provider's limit. */
export interface ProviderLimit {
  /** Calls per window (tokens per window for `token-bucket`). */
  limit: number;
  /** Window length in seconds. */
  windowSeconds: number;
  /** @defaultValue `'fixed-window'` */
  algorithm?: RateLimitAlgorithm;
  /** `token-bucket` only. @defaultValue `limit` */
  burst?: number;
}

/** Options of {@link defineProviderLimits}. */
export interface ProviderLimitsOptions<P extends string> {
  /** The connection shared by every limiter (see `createLimiterConnection`). */
  redis: LimiterClient;
  /**
   * Plan tiers: per tier, the providers whose limit differs from the default, each merged over
   * the default (`{ pro: { semrush: { limit: 100 } } }` keeps semrush's window). A tier may change
   * `limit`, `windowSeconds` and `burst`, not the algorithm. @defaultValue `{}`
   */
  tiers?: Record<string, Partial<Record<P, Partial<ProviderLimit>>>>;
  /** The tier of a tenant, or `undefined` for the defaults. @defaultValue every tenant on the defaults */
  tierOf?: (tenantId: string) => string | undefined;
  /** First key part. @defaultValue `'ratelimit'` */
  prefix?: string;
  /** See `RateLimiterOptions.keyPrefix`. @defaultValue `REDIS_KEY_PREFIX` */
  keyPrefix?: string;
  /** See `RateLimiterOptions.shortCircuit`. @defaultValue `true` */
  shortCircuit?: boolean;
  /** See `RateLimiterOptions.failOpen`. @defaultValue `false` */
  failOpen?: boolean;
  /** See `RateLimiterOptions.batching`. @defaultValue `true` */
  batching?: boolean;
}

/** A service's provider limits. See {@link defineProviderLimits}. */
export interface ProviderLimits<P extends string> {
  /** The declared providers. */
  readonly providers: readonly P[];
  /** The default limiter of each provider. */
  readonly limiters: Readonly<Record<P, RateLimiter>>;
  /** The limiter that applies to a tenant (its tier's, else the default). */
  limiter(provider: P, tenantId?: string): RateLimiter;
  /** `consume` on the tenant's limiter for `provider`. */
  consume(tenantId: string, provider: P, options?: ConsumeOptions): Promise<RateLimitResult>;
  /** `withRateLimit` on the tenant's limiter for `provider`. */
  withRateLimit<T>(tenantId: string, provider: P, fn: () => T | Promise<T>, options?: ConsumeOptions): Promise<T>;
}

/**
 * Declares a service's provider limits once, with per-tenant overrides by plan tier. A tenant's
 * usage lives in one key per provider (`ratelimit:{tenantId}:{provider}`) whatever its tier, so a
 * plan change takes effect on the next call without resetting the count.
 *
 * @example
 * const limits = defineProviderLimits(
 *   { semrush: { limit: 10, windowSeconds: 60 }, openai: { limit: 60, windowSeconds: 60, algorithm: 'token-bucket', burst: 10 } },
 *   { redis, tiers: { pro: { semrush: { limit: 100 } } }, tierOf: (tenantId) => plans.get(tenantId) },
 * );
 * await limits.withRateLimit(tenantId, 'semrush', () => semrush.domainOverview(domain));
 */
export function defineProviderLimits<P extends string>(
  providers: Record<P, ProviderLimit>,
  options: ProviderLimitsOptions<P>,
): ProviderLimits<P> {
  const { redis, tiers = {}, tierOf, prefix, keyPrefix, shortCircuit, failOpen, batching } = options;
  const names = Object.keys(providers) as P[];
  if (names.length === 0) throw new InvalidArgumentError('providers', 'declare at least one provider');
  const make = (provider: P, spec: ProviderLimit): RateLimiter =>
    createRateLimiter({ ...spec, redis, provider, prefix, keyPrefix, shortCircuit, failOpen, batching });

  const limiters = {} as Record<P, RateLimiter>;
  for (const provider of names) {
    assertProviderName(provider);
    limiters[provider] = make(provider, providers[provider]);
  }
  // Every tier limiter is built up front, so a bad override fails at startup, not on a request.
  const tierLimiters = new Map<string, Partial<Record<P, RateLimiter>>>();
  for (const [tier, overrides] of Object.entries(tiers) as [string, Partial<Record<P, Partial<ProviderLimit>>>][]) {
    const built: Partial<Record<P, RateLimiter>> = {};
    for (const provider of Object.keys(overrides) as P[]) {
      if (!Object.hasOwn(providers, provider)) {
        throw new InvalidArgumentError('tiers', `tier "${tier}" overrides undeclared provider "${provider}"`);
      }
      const override = overrides[provider] ?? {};
      const base = providers[provider];
      // One key per tenant and provider whatever the tier, so every tier must keep its algorithm.
      if (override.algorithm !== undefined && override.algorithm !== (base.algorithm ?? 'fixed-window')) {
        throw new InvalidArgumentError('tiers', `tier "${tier}" cannot change the algorithm of "${provider}" (tenants share one key per provider)`);
      }
      built[provider] = make(provider, { ...base, ...override });
    }
    tierLimiters.set(tier, built);
  }

  const limiter = (provider: P, tenantId?: string): RateLimiter => {
    // Own properties only: a name such as "toString" is not a declared provider.
    const base = Object.hasOwn(limiters, provider) ? limiters[provider] : undefined;
    if (base === undefined) throw new InvalidArgumentError('provider', `${describeValue(provider)} is not declared (declared: ${names.join(', ')})`);
    if (tenantId === undefined || tierOf === undefined) return base;
    assertTenantId(tenantId);
    const tier = tierOf(tenantId);
    if (tier === undefined) return base;
    const overrides = tierLimiters.get(tier);
    if (overrides === undefined) throw new InvalidArgumentError('tier', `tenant "${tenantId}" is on unknown tier "${tier}"`);
    return (Object.hasOwn(overrides, provider) ? overrides[provider] : undefined) ?? base;
  };

  return {
    providers: names,
    limiters,
    limiter,
    // Async: a bad provider, tenant or tier rejects, as the limiter's own calls do, instead of throwing.
    consume: async (tenantId, provider, consumeOptions) => limiter(provider, tenantId).consume(tenantId, consumeOptions),
    withRateLimit: async (tenantId, provider, fn, consumeOptions) => withRateLimit(limiter(provider, tenantId), tenantId, fn, consumeOptions),
  };
}
