import { NotificationSendError } from './errors';

// Errors of fetch/undici/node:net that mean "the request did not get an answer": worth retrying.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
// The three HTTP-date forms (IMF-fixdate, RFC 850, asctime), all GMT. Date.parse alone also takes
// "-1" or "abc 5" (as dates in 2001: a wait of 0) and reads asctime, which has no zone, as local time.
const IMF_OR_RFC850_DATE = new RegExp(`^[A-Za-z]{3,9}, \\d{1,2}[ -]${MONTH}[ -]\\d{2}(?:\\d{2})? ${TIME} GMT$`, 'i');
const ASCTIME_DATE = new RegExp(`^[A-Za-z]{3} ${MONTH} [ \\d]?\\d ${TIME} \\d{4}$`, 'i');

/**
 * Parses an HTTP `Retry-After` value (delay in seconds, or an HTTP date) into milliseconds from
 * `now`. Returns `undefined` for a missing or unreadable value; a delay too long for a number is
 * `Number.MAX_SAFE_INTEGER` (a worker cuts it to its `maxRetryAfterMs`).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(Math.round(Number(text) * 1000), Number.MAX_SAFE_INTEGER);
  let at = Number.NaN;
  if (IMF_OR_RFC850_DATE.test(text)) at = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) at = Date.parse(`${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Whether an HTTP status is worth retrying: 429 (rate limited), 408 (request timeout) and every
 * 5xx are; every other 4xx (bad request, invalid address, unauthorised, …) is permanent.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** True for errors that mean the provider could not be reached or did not answer (retryable). */
export function isNetworkError(error: unknown): boolean {
  // Checked by shape, not instanceof: fetch's errors may come from another realm (jest, workers).
  if (typeof error !== 'object' || error === null) return false;
  const { name, message, code, cause } = error as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  if (name === 'AbortError' || name === 'TimeoutError') return true;
  const causeCode = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  if ([code, causeCode].some((c) => typeof c === 'string' && NETWORK_CODES.has(c))) return true;
  // undici reports every transport failure as `TypeError: fetch failed` with the reason in `cause`.
  return name === 'TypeError' && message === 'fetch failed';
}

/**
 * Turns whatever a sender threw into a {@link NotificationSendError}: kept as is when it already is
 * one; an error carrying a numeric HTTP `status` (or `statusCode`) is classified by that status;
 * network errors and unknown errors are retryable (an unknown failure is retried, then parked in
 * the failed set, rather than dropped).
 */
export function classifySendError(error: unknown): NotificationSendError {
  if (error instanceof NotificationSendError) return error;
  const retryable = (error as { retryable?: unknown } | null)?.retryable;
  const message =
    typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
      ? (error as { message: string }).message
      : String(error);
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown;
    statusCode?: unknown;
    retryAfterMs?: unknown;
    name?: unknown;
  };
  const status = typeof shape.status === 'number' ? shape.status : typeof shape.statusCode === 'number' ? shape.statusCode : undefined;
  const retryAfterMs = typeof shape.retryAfterMs === 'number' && Number.isFinite(shape.retryAfterMs) ? shape.retryAfterMs : undefined;
  // An adapter's own error class (or another copy of this package) that already says what to do.
  if (typeof retryable === 'boolean') {
    return new NotificationSendError(message, { retryable, ...(status !== undefined ? { status } : {}), retryAfterMs, cause: error });
  }
  if (status !== undefined && status >= 400) {
    return new NotificationSendError(message, { retryable: isRetryableStatus(status), status, retryAfterMs, cause: error });
  }
  if (isNetworkError(error)) return new NotificationSendError(`network error: ${message}`, { retryable: true, cause: error });
  return new NotificationSendError(message, { retryable: true, retryAfterMs, cause: error });
}
