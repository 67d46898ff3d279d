import type { NotificationSender } from '../sender';
import { answerError, callProvider, httpSettings, redact, requiredString, type ProviderHttpOptions } from './http';

/** Options of {@link createResendSender}. */
export interface ResendSenderOptions extends ProviderHttpOptions {
  /** The Resend API key (`re_…`). Never logged or put in an error. */
  apiKey: string;
  /** Sender address for messages without `from`, e.g. `Acme <noreply@acme.test>`. */
  from: string;
}

/**
 * E-mail over the Resend HTTP API (`POST /emails`, bearer key). The notification's idempotency key
 * goes in the `Idempotency-Key` header, so Resend drops a retry of a message it already accepted.
 *
 * Answers: 200 `{ id }` → delivered with that id; 429 with `Retry-After` → deferral; 409
 * `concurrent_idempotent_requests`, 429 without a hint, 408 and 5xx → retryable; 401/403 (key),
 * 422 (validation), other 409 and other 4xx → permanent.
 */
export function createResendSender(options: ResendSenderOptions): NotificationSender<'email'> {
  const apiKey = requiredString('apiKey', options.apiKey);
  const from = requiredString('from', options.from);
  const http = httpSettings(options, 'https://api.resend.com');
  return {
    provider: 'resend',
    async send(message, context) {
      const body = {
        from: message.from ?? from,
        to: Array.isArray(message.to) ? message.to : [message.to],
        subject: message.subject,
        ...(message.text !== undefined ? { text: message.text } : {}),
        ...(message.html !== undefined ? { html: message.html } : {}),
        ...(message.replyTo !== undefined ? { reply_to: message.replyTo } : {}),
      };
      const answer = await callProvider(
        'resend',
        http,
        `${http.baseUrl}/emails`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': context.idempotencyKey },
          body: JSON.stringify(body),
        },
        context.signal,
      );
      const json = (answer.json ?? {}) as { id?: unknown; name?: unknown; message?: unknown };
      // Accepted: an answer without an id is still a message sent (retrying would risk a twin).
      if (answer.status >= 200 && answer.status < 300) return { providerMessageId: typeof json.id === 'string' ? json.id : '' };
      const name = typeof json.name === 'string' ? json.name : '';
      const reason = redact(typeof json.message === 'string' ? `${name ? `${name}: ` : ''}${json.message}` : answer.text, [apiKey]);
      throw answerError('resend', answer, { reason, ...(answer.status === 409 ? { retryable: name === 'concurrent_idempotent_requests' } : {}) });
    },
  };
}
