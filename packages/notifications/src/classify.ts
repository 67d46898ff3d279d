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

/**
 * Parses an HTTP `Retry-After` value (delay in seconds, or an HTTP date) into milliseconds from
 * `now`. Returns `undefined` for a missing or unreadable value.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
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
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  const codes = [(error as { code?: unknown }).code, (error.cause as { code?: unknown } | undefined)?.code];
  if (codes.some((code) => typeof code === 'string' && NETWORK_CODES.has(code))) return true;
  // undici reports every transport failure as `TypeError: fetch failed` with the reason in `cause`.
  return error instanceof TypeError && error.message === 'fetch failed';
}

/**
 * Turns whatever a sender threw into a {@link NotificationSendError}: kept as is when it already is
 * one; an error carrying a numeric HTTP `status` (or `statusCode`) is classified by that status;
 * network errors and unknown errors are retryable (an unknown failure is retried, then parked in
 * the failed set, rather than dropped).
 */
export function classifySendError(error: unknown): NotificationSendError {
  if (error instanceof NotificationSendError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown;
    statusCode?: unknown;
    retryAfterMs?: unknown;
    name?: unknown;
  };
  const status = typeof shape.status === 'number' ? shape.status : typeof shape.statusCode === 'number' ? shape.statusCode : undefined;
  const retryAfterMs = typeof shape.retryAfterMs === 'number' && Number.isFinite(shape.retryAfterMs) ? shape.retryAfterMs : undefined;
  if (status !== undefined && status >= 400) {
    return new NotificationSendError(message, { retryable: isRetryableStatus(status), status, retryAfterMs, cause: error });
  }
  if (isNetworkError(error)) return new NotificationSendError(`network error: ${message}`, { retryable: true, cause: error });
  return new NotificationSendError(message, { retryable: true, retryAfterMs, cause: error });
}
