import { InvalidArgumentError, describeValue } from '@platform/redis';

/** The dedupe window: `notifyOnce` suppresses twins for this many seconds (24 h). */
export const DEFAULT_DEDUPE_TTL_SECONDS = 86_400;

/**
 * How long a claim stays pending before its job is in the queue. A process that dies between claim
 * and enqueue blocks the notification for at most this long. Longer than the queue's default
 * `enqueueTimeoutMs` (5 s), so a slow but successful enqueue keeps its claim.
 */
export const DEFAULT_PENDING_TTL_MS = 30_000;

/** Name of the BullMQ backoff type whose strategy `createNotificationWorker` installs. */
export const NOTIFICATION_BACKOFF_TYPE = 'notification';

/** Defaults of the worker's backoff (see `NotificationBackoffOptions`). */
export const defaultNotificationBackoff = Object.freeze({
  delayMs: 1000,
  maxDelayMs: 5 * 60_000,
  jitter: 0.5,
  maxRetryAfterMs: 60 * 60_000,
});

/** Default of the webhook sender's `timeoutMs`. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** Throws {@link InvalidArgumentError} unless `value` is an integer in `[min, max]`. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

/** Throws {@link InvalidArgumentError} unless `value` is a number in `[min, max]`. */
export function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be a number from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}
