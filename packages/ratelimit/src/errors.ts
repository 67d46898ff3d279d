import {
  PlatformError,
  RedisUnavailableError,
  toUnavailableError,
  type Deferral,
  type DeferralReason,
  type PlatformErrorOptions,
} from '@platform/redis';

/** What a {@link RateLimitError} says about the refused call. */
export interface RateLimitErrorDetails {
  /** The tenant that was refused. */
  tenantId: string;
  /** The provider, e.g. `semrush`. */
  provider: string;
  /** The limit per window (or the bucket rate for `token-bucket`). */
  limit: number;
  /** The window length in seconds. */
  windowSeconds: number;
  /** The Redis key of the limiter, e.g. `ratelimit:t1:semrush`. */
  key: string;
  /** How long until the call would be allowed, ms. */
  retryAfterMs: number;
  /** When the call would be allowed, ms since the epoch (caller's clock). */
  retryAt: number;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.ceil(ms / 1000)} s`;
}

/** What both refusals carry: a deferral for one tenant, provider and key. */
abstract class LimitRefusal extends PlatformError implements Deferral {
  /** Always `true`: a worker delays the job rather than failing it. */
  readonly delayJob = true as const;
  /** Why a deferred job waits. */
  readonly deferralReason: DeferralReason;
  /** How long until a call could be allowed, ms (`>= 0`). */
  readonly retryAfterMs: number;
  /** The Redis key of the limiter. */
  readonly key: string;
  /** The refused tenant. */
  readonly tenantId: string;
  /** The provider. */
  readonly provider: string;

  protected constructor(
    code: 'RATE_LIMITED' | 'CONCURRENCY_LIMITED',
    reason: DeferralReason,
    message: string,
    details: { tenantId: string; provider: string; key: string; retryAfterMs: number },
    options?: PlatformErrorOptions,
  ) {
    super(code, `${message}; retry in ${seconds(details.retryAfterMs)} (key ${details.key})`, options);
    this.deferralReason = reason;
    this.retryAfterMs = Math.max(0, details.retryAfterMs);
    this.key = details.key;
    this.tenantId = details.tenantId;
    this.provider = details.provider;
  }
}

/**
 * A call was refused by a rate limiter. Thrown by `withRateLimit`. A deferral (`delayJob: true`,
 * `deferralReason: 'rate-limit'`; see `isDeferral` of `@platform/redis`): a worker whose handler
 * throws it delays the job by `retryAfterMs` without spending an attempt.
 */
export class RateLimitError extends LimitRefusal {
  /** The limit per window. */
  readonly limit: number;
  /** When the call would be allowed, ms since the epoch (caller's clock). */
  readonly retryAt: number;

  constructor(details: RateLimitErrorDetails, options?: PlatformErrorOptions) {
    const allowed = `${details.limit} times per ${details.windowSeconds} s`;
    super('RATE_LIMITED', 'rate-limit', `Rate limit exceeded: tenant "${details.tenantId}" may call ${details.provider} ${allowed}`, details, options);
    this.limit = details.limit;
    this.retryAt = details.retryAt;
  }

  // Fixed, so bundling or minifying cannot change the name in logs.
  override get name(): string {
    return 'RateLimitError';
  }
}

/**
 * Redis could not be reached (or did not answer in time), so the limiter could not decide. A
 * `RedisUnavailableError` (code `REDIS_UNAVAILABLE`) that names the key. Thrown by every limiter
 * call unless the limiter was created with `failOpen: true`; on a `createLimiterConnection`
 * connection at once while Redis is down, else within the connection's command timeout.
 */
export class RateLimiterUnavailableError extends RedisUnavailableError {
  /** The Redis key the decision was for. */
  readonly key: string;

  constructor(key: string, options?: PlatformErrorOptions) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`Rate limiter unavailable for ${key} (Redis unreachable${reason})`, options);
    this.key = key;
  }

  override get name(): string {
    return 'RateLimiterUnavailableError';
  }
}

/** `error` as a {@link RateLimiterUnavailableError} for `key` when it is a connection failure, else as it is. */
export function unavailableError(error: unknown, key: string): unknown {
  return toUnavailableError(error, key, (_message, cause) => new RateLimiterUnavailableError(key, { cause }));
}

/** What a {@link ConcurrencyLimitError} says about the refused call. */
export interface ConcurrencyLimitErrorDetails {
  /** The refused tenant. */
  tenantId: string;
  /** The provider. */
  provider: string;
  /** Calls allowed in flight at once. */
  maxInFlight: number;
  /** The Redis key of the lease set. */
  key: string;
  /** A suggested wait before trying again, ms. */
  retryAfterMs: number;
}

/**
 * A call was refused because `maxInFlight` calls are already running. A deferral (`delayJob: true`,
 * `deferralReason: 'concurrency'`): a worker whose handler throws it delays the job by
 * `retryAfterMs` without spending an attempt.
 */
export class ConcurrencyLimitError extends LimitRefusal {
  /** Calls allowed in flight at once. */
  readonly maxInFlight: number;

  constructor(details: ConcurrencyLimitErrorDetails, options?: PlatformErrorOptions) {
    const inFlight = `${details.maxInFlight} ${details.provider} calls in flight`;
    super('CONCURRENCY_LIMITED', 'concurrency', `Concurrency limit reached: tenant "${details.tenantId}" already has ${inFlight}`, details, options);
    this.maxInFlight = details.maxInFlight;
  }

  override get name(): string {
    return 'ConcurrencyLimitError';
  }
}
