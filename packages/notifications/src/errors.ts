import { PlatformError, type Deferral, type DeferralReason, type PlatformErrorOptions, type ValidationIssue } from '@platform/redis';

/** One problem found in a notification: where (`path`, e.g. `tenantId` or `payload.to`) and what. */
export type NotificationIssue = ValidationIssue;

/**
 * A notification (tenant id, type, dedupe key, channel or channel payload) is invalid.
 * Thrown before anything is written to Redis; `issues` lists every problem.
 */
export class NotificationValidationError extends PlatformError {
  /** Every problem found, in input order. */
  readonly issues: readonly NotificationIssue[];

  constructor(issues: readonly NotificationIssue[], options?: PlatformErrorOptions) {
    const list = issues.map((i) => `${i.path || '(notification)'}: ${i.message}`).join('; ');
    super('NOTIFICATION_INVALID', `Invalid notification: ${list}`, options);
    this.issues = issues;
  }
}

/** Options of {@link NotificationSendError}. */
export interface NotificationSendErrorOptions extends PlatformErrorOptions {
  /** `true`: try again later (429, 5xx, network); `false`: the provider refused for good (4xx, invalid address). */
  retryable: boolean;
  /** HTTP status of the provider's answer, when there was one. */
  status?: number;
  /** The provider asked to wait this long before the next attempt (from `Retry-After`). */
  retryAfterMs?: number;
}

/**
 * A sender could not deliver a message. Senders (adapters) throw it to tell the worker how to go on:
 * a retryable error is retried with backoff (honouring `retryAfterMs`); a permanent one fails the job
 * at once, without retries. Its message (the provider's reason) becomes the job's `failedReason`.
 */
export class NotificationSendError extends PlatformError {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean;
  /** HTTP status of the provider's answer, if any. */
  readonly status: number | undefined;
  /** How long the provider asked to wait before the next attempt, if it said. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: NotificationSendErrorOptions) {
    super('NOTIFICATION_SEND_FAILED', message, options);
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The provider throttled the sender (HTTP 429 with a retry hint: `Retry-After`, Telegram's
 * `parameters.retry_after`). A {@link Deferral}: the worker runs the job again after
 * `retryAfterMs` without spending an attempt.
 */
export class ProviderThrottledError extends NotificationSendError implements Deferral {
  readonly delayJob = true as const;
  override readonly retryAfterMs: number;
  readonly deferralReason: DeferralReason = 'provider-throttled';

  constructor(message: string, retryAfterMs: number, options: PlatformErrorOptions & { status?: number } = {}) {
    // A wait too long for a number is the longest one (the worker cuts it to its maximum), never none.
    const wait = retryAfterMs >= 0 ? Math.min(Math.round(retryAfterMs), Number.MAX_SAFE_INTEGER) : 0;
    super(message, { ...options, retryable: true, status: options.status ?? 429, retryAfterMs: wait });
    this.retryAfterMs = wait;
  }
}
