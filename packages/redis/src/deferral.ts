import { PlatformError, type PlatformErrorCode, type PlatformErrorOptions } from './errors';

/**
 * Why a job was deferred. Used as a metric label and in logs; open to new values.
 * - `rate-limit`: a rate limiter's window is full.
 * - `concurrency`: a concurrency limit or pool is full.
 * - `lock-busy`: another holder has the lock or semaphore.
 * - `tenant-busy`: the fair scheduler has no slot for the tenant now.
 * - `tenant-paused`: the tenant is paused.
 * - `provider-throttled`: an external provider answered 429 with a retry hint.
 * - `circuit-open`: a provider's circuit breaker is open.
 */
export type DeferralReason =
  | 'rate-limit'
  | 'concurrency'
  | 'lock-busy'
  | 'tenant-busy'
  | 'tenant-paused'
  | 'provider-throttled'
  | 'circuit-open'
  | (string & {});

/**
 * The one "come back later" contract: an error with `delayJob: true` and a finite
 * `retryAfterMs >= 0` asks a worker to run the job again after that many ms without spending an
 * attempt. Any error class may implement it; {@link isDeferral} is the only check.
 */
export interface Deferral {
  /** Always `true`: run the job again later, without spending an attempt. */
  readonly delayJob: true;
  /** How long to wait before the next try, in ms (finite, `>= 0`). */
  readonly retryAfterMs: number;
  /** Why, for metrics and logs. @defaultValue none */
  readonly deferralReason?: DeferralReason;
}

/**
 * True when `error` is a {@link Deferral}: `delayJob === true` and a finite `retryAfterMs >= 0`.
 * Matches by shape, never by class or name, so it holds across package copies and versions.
 */
export function isDeferral(error: unknown): error is Error & Deferral {
  if (typeof error !== 'object' || error === null) return false;
  const { delayJob, retryAfterMs } = error as { delayJob?: unknown; retryAfterMs?: unknown };
  return delayJob === true && typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0;
}

/**
 * A ready-made {@link Deferral} for code that has no error class of its own, e.g. a handler that
 * learns a dependency is busy: `throw new DeferJobError(5000, 'provider-throttled', 'CRM busy')`.
 */
export class DeferJobError extends PlatformError implements Deferral {
  readonly delayJob = true as const;
  readonly retryAfterMs: number;
  readonly deferralReason: DeferralReason;

  constructor(
    retryAfterMs: number,
    reason: DeferralReason,
    message = `deferred (${reason}) for ${retryAfterMs} ms`,
    options?: PlatformErrorOptions & { code?: PlatformErrorCode },
  ) {
    super(options?.code ?? 'JOB_DEFERRED', message, options);
    this.retryAfterMs = Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? retryAfterMs : 0;
    this.deferralReason = reason;
  }
}
