import { InvalidArgumentError, checkInteger } from '@platform/redis';
import { isRetryableStatus, parseRetryAfter } from '../classify';
import { NotificationSendError, ProviderThrottledError } from '../errors';
import { traceHeaders } from '@platform/telemetry';

/** Options every HTTP provider adapter takes. */
export interface ProviderHttpOptions {
  /** The API's base URL (override for tests, proxies and regional endpoints). @defaultValue the provider's public API */
  baseUrl?: string;
  /** An attempt without an answer within this many ms fails (retryable). @defaultValue `10000` */
  timeoutMs?: number;
  /** The `fetch` to use. @defaultValue the global `fetch` */
  fetch?: typeof fetch;
}

/** Default of {@link ProviderHttpOptions.timeoutMs}. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

/** A provider's HTTP answer, read once. */
export interface ProviderAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: unknown;
}

const MAX_REASON_CHARS = 300;

/** A signal that fires when either fires (AbortSignal.any arrived in Node 20.3; engines allow 20.0). */
export function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const controller = new AbortController();
  const abort = (source: AbortSignal) => () => controller.abort(source.reason);
  if (a.aborted || b.aborted) controller.abort((a.aborted ? a : b).reason);
  a.addEventListener('abort', abort(a), { once: true });
  b.addEventListener('abort', abort(b), { once: true });
  return controller.signal;
}

/** Replaces every secret in `text` (API keys, tokens) so it can go into an error message. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out.length > MAX_REASON_CHARS ? `${out.slice(0, MAX_REASON_CHARS)}…` : out;
}

/** The base URL option as a URL without a trailing slash; `InvalidArgumentError` when it is not http(s). */
export function baseUrlOf(value: string | undefined, fallback: string): string {
  const text = value ?? fallback;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('baseUrl', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('baseUrl', 'must be an http(s) URL');
  return url.href.replace(/\/+$/, '');
}

/** Validates a required string option (a credential or an id) without ever echoing its value. */
export function requiredString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidArgumentError(name, 'is required (a non-empty string)');
  return value;
}

/** The common HTTP settings of an adapter, validated. */
export function httpSettings(options: ProviderHttpOptions, fallbackBaseUrl: string): { baseUrl: string; timeoutMs: number; fetch: typeof fetch } {
  return {
    baseUrl: baseUrlOf(options.baseUrl, fallbackBaseUrl),
    timeoutMs: checkInteger('timeoutMs', options.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS, 1),
    fetch: options.fetch ?? fetch,
  };
}

/**
 * Sends one request to a provider and reads the whole answer (a redirect is not followed: its 3xx
 * is the answer). No answer at all (refused, reset,
 * DNS, timeout) throws a retryable `NotificationSendError` naming the provider and the network
 * code only: never the URL or headers, which may carry credentials (Telegram's token is in the path).
 */
export async function callProvider(
  provider: string,
  settings: { timeoutMs: number; fetch: typeof fetch },
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string },
  signal: AbortSignal | undefined,
): Promise<ProviderAnswer> {
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  const combined = signal ? anySignal(timeout, signal) : timeout;
  let response: Response;
  try {
    // The send span's W3C context, so a provider (or an egress proxy) that traces can continue the trace.
    // Not following redirects: fetch re-sends a POST redirected by 301/302/303 as a GET without its
    // body, and that 2xx would read as delivered. A 3xx is a failed answer like any other 4xx.
    response = await settings.fetch(url, { ...init, headers: { ...traceHeaders(), ...init.headers }, redirect: 'manual', signal: combined });
  } catch (error) {
    const code = (error as { cause?: { code?: unknown } }).cause?.code;
    const reason = timeout.aborted ? `no answer within ${settings.timeoutMs} ms` : `no answer${typeof code === 'string' ? ` (${code})` : ''}`;
    // No cause attached: transport errors can quote the URL, and some URLs hold a credential.
    throw new NotificationSendError(`${provider}: ${reason}`, { retryable: true });
  }
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body was cut off; the status still says what happened.
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** How an adapter wants a failed answer treated, beyond what its HTTP status says. */
export interface AnswerVerdict {
  /** The provider's own reason, already redacted. */
  reason: string;
  /** Force permanent (`false`) or retryable (`true`); else the status decides. */
  retryable?: boolean;
  /** A provider-specific wait hint (ms) that makes this a throttle: a deferral. */
  throttleMs?: number;
}

/**
 * The error for a failed answer: a 429 (or a provider throttle code) with a wait hint is a
 * {@link ProviderThrottledError} (a deferral, no attempt spent); 429 without one, 408 and 5xx are
 * retryable (a `Retry-After` sets the delay); auth and validation errors (other 4xx) are permanent.
 */
export function answerError(provider: string, answer: ProviderAnswer, verdict: AnswerVerdict): NotificationSendError {
  const message = `${provider} answered ${answer.status}${verdict.reason ? `: ${verdict.reason}` : ''}`;
  const retryAfterMs = parseRetryAfter(answer.headers.get('retry-after'));
  const throttleMs = verdict.throttleMs ?? (answer.status === 429 ? retryAfterMs : undefined);
  if (throttleMs !== undefined) return new ProviderThrottledError(message, throttleMs, { status: answer.status });
  return new NotificationSendError(message, {
    retryable: verdict.retryable ?? isRetryableStatus(answer.status),
    status: answer.status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
