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

