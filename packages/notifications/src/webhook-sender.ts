import { InvalidArgumentError, checkInteger } from '@platform/redis';
import type { NotificationChannel } from '@platform/queue';
import { isRetryableStatus, parseRetryAfter } from './classify';
import { NotificationSendError, ProviderThrottledError } from './errors';
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from './options';
import type { ChannelPayload } from './schemas';
import { anySignal } from './providers/http';
import type { NotificationSender, SendContext, SendResult } from './sender';
import { traceHeaders } from '@platform/telemetry';

/** Options of {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  /** The endpoint that receives `POST` requests (http or https; credentials go in `headers`, not in the URL). */
  url: string;
  /**
   * Extra request headers, e.g. `{ authorization: 'Bearer …' }`. Their values are never quoted in an
   * error (replaced by `[redacted]` should the endpoint echo them). @defaultValue `{}`
   */
  headers?: Record<string, string>;
  /** An attempt that gets no answer within this many ms fails (retryable). @defaultValue `10000` */
  timeoutMs?: number;
  /** The `fetch` to use. @defaultValue the global `fetch` (Node 20) */
  fetch?: typeof fetch;
}

/** The JSON body the webhook receives. */
export interface WebhookRequestBody<C extends NotificationChannel = NotificationChannel> {
  channel: C;
  tenantId: string;
  type: string;
  dedupeKey: string;
  idempotencyKey: string;
  message: ChannelPayload<C>;
}

const MAX_REASON_CHARS = 500;

/** The answer's body, whole (a 2xx answer's JSON is read for the message id), or '' when it was cut off. */
async function readBody(response: Response): Promise<string> {
  try {
    return (await response.text()).trim();
  } catch {
    return '';
  }
}

/** The answer's body as the reason of an error, cut to a readable length. */
function reasonOf(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}

/**
 * What an error must never quote: every extra header's value (they carry the authorisation, API keys,
 * signing secrets) and the token of a `<scheme> <token>` value, longest first.
 */
function secretsOf(headers: Record<string, string>): string[] {
  const secrets: string[] = [];
  for (const value of Object.values(headers)) {
    secrets.push(value.trim());
    const token = /^\S+\s+(\S+)$/.exec(value.trim())?.[1];
    if (token !== undefined) secrets.push(token);
  }
  return secrets.filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
}

function messageIdOf(body: string, response: Response, fallback: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const field of ['providerMessageId', 'messageId', 'id']) {
      const value = parsed?.[field];
      if (typeof value === 'string' && value !== '') return value;
      if (typeof value === 'number') return String(value);
    }
  } catch {
    // Not JSON: fall through to the header.
  }
  return response.headers.get('x-message-id') ?? fallback;
}

/**
 * A sender that POSTs each message as JSON ({@link WebhookRequestBody}) with an `Idempotency-Key`
 * header (the same on every attempt). A 2xx answer is success; the provider message id is read from
 * the JSON answer (`providerMessageId`, `messageId` or `id`), the `x-message-id` header, or else is
 * the idempotency key. A 429 with `Retry-After` (seconds or an HTTP date) is a deferral
 * ({@link ProviderThrottledError}: no attempt spent); 429 without it, 408 and 5xx are retryable
 * (a `Retry-After` sets the delay); other statuses are permanent, a redirect (3xx) too: it is not
 * followed, since fetch would re-send the POST as a GET without its body; network errors and
 * timeouts are retryable.
 *
 * @example
 * createNotificationWorker('sms', createWebhookSender({ url: 'https://sms-gateway.internal/send', headers: { authorization: `Bearer ${token}` } }));
 */
export function createWebhookSender<C extends NotificationChannel = NotificationChannel>(options: WebhookSenderOptions): NotificationSender<C> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvalidArgumentError('url', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('url', 'must be an http(s) URL');
  // fetch refuses such a URL on every send, with an error that quotes it: refused here, unquoted.
  if (url.username !== '' || url.password !== '') throw new InvalidArgumentError('url', 'must not contain credentials (user:password@); pass them in headers');
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS, 1);
  const doFetch = options.fetch ?? fetch;
  const extraHeaders = { ...options.headers };
  const secrets = secretsOf(extraHeaders);
  const where = `${url.origin}${url.pathname}`;

  return {
    provider: 'webhook',
    async send(message: ChannelPayload<C>, context: SendContext): Promise<SendResult> {
      const body: WebhookRequestBody<C> = {
        channel: context.channel as C,
        tenantId: context.tenantId,
        type: context.type,
        dedupeKey: context.dedupeKey,
        idempotencyKey: context.idempotencyKey,
        message,
      };
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = context.signal ? anySignal(timeout, context.signal) : timeout;
      let response: Response;
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: { ...extraHeaders, ...traceHeaders(), 'content-type': 'application/json', 'idempotency-key': context.idempotencyKey },
          body: JSON.stringify(body),
          // A followed 301/302/303 turns the POST into a GET without the body, and its 2xx would
          // read as delivered: the redirect is reported (permanent) instead.
          redirect: 'manual',
          signal,
        });
      } catch (error) {
        // No answer at all (refused, reset, DNS, timeout): the provider may be back on the next attempt.
        const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
        const detail = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
        const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : `${(error as Error).message}${detail}`;
        throw new NotificationSendError(`webhook ${where}: ${reason}`, { retryable: true, cause: error });
      }
      const answer = await readBody(response);
      if (response.ok) return { providerMessageId: messageIdOf(answer, response, context.idempotencyKey) };
      const status = response.status;
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      // An endpoint may echo the request's headers (a 401 quoting the token): never into an error.
      const text = reasonOf(secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), answer));
      const reason = `webhook ${where} answered ${status}${text ? `: ${text}` : ''}`;
      // Throttled with a hint: come back then, without spending an attempt.
      if (status === 429 && retryAfterMs !== undefined) throw new ProviderThrottledError(reason, retryAfterMs);
      throw new NotificationSendError(reason, {
        retryable: isRetryableStatus(status),
        status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    },
  };
}
