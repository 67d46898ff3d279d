/** The dedupe window: `notifyOnce` suppresses twins for this many seconds (24 h). */
export const DEFAULT_DEDUPE_TTL_SECONDS = 86_400;

/**
 * How long a claim stays pending before its job is in the queue. A process that dies between claim
 * and enqueue blocks the notification for at most this long. Longer than the queue's default
 * `enqueueTimeoutMs` (5 s), so a slow but successful enqueue keeps its claim.
 */
export const DEFAULT_PENDING_TTL_MS = 30_000;

/** Longest `Retry-After` or deferral a worker honours by default (1 h). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60 * 60_000;

/** Default of the webhook sender's `timeoutMs`. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

