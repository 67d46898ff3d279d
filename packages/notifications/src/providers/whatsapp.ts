import { checkInteger } from '@platform/redis';
import type { NotificationSender } from '../sender';
import { answerError, callProvider, httpSettings, redact, requiredString, type ProviderHttpOptions } from './http';

/** Options of {@link createWhatsAppSender}. */
export interface WhatsAppSenderOptions extends ProviderHttpOptions {
  /** A system-user or app access token. Never logged or put in an error. */
  accessToken: string;
  /** The business phone number id messages are sent from. */
  phoneNumberId: string;
  /** Graph API version in the path. @defaultValue `'v21.0'` */
  apiVersion?: string;
  /**
   * How long to hold the job after a throttling error (codes 4, 80007, 130429, 131056), which
   * carries no wait hint of its own: a deferral, no attempt spent. @defaultValue `60000`
   */
  throttleWaitMs?: number;
}

// Graph API error codes: throttling (come back later) and transient failures (retry).
const THROTTLE_CODES = new Set([4, 80007, 130429, 131056]);
const TRANSIENT_CODES = new Set([1, 2, 131000, 131016]);

/**
 * WhatsApp over the Cloud API (`POST /{version}/{phoneNumberId}/messages`, bearer token): a
 * template message when the payload has `template` (language code, body variables as text
 * parameters), else a text message. The Cloud API has no idempotency key.
 *
 * Answers: 200 `{ messages: [{ id }] }` → delivered with the `wamid`; throttling codes (4, 80007,
 * 130429, 131056) → deferral for `throttleWaitMs`; codes 1, 2, 131000, 131016, 408 and 5xx →
 * retryable; 190 / 401 (token), 100 (parameter), 131026 (undeliverable) and other 4xx → permanent.
 */
export function createWhatsAppSender(options: WhatsAppSenderOptions): NotificationSender<'whatsapp'> {
  const accessToken = requiredString('accessToken', options.accessToken);
  const phoneNumberId = requiredString('phoneNumberId', options.phoneNumberId);
  const apiVersion = requiredString('apiVersion', options.apiVersion ?? 'v21.0');
  const throttleWaitMs = checkInteger('throttleWaitMs', options.throttleWaitMs ?? 60_000, 0);
  const http = httpSettings(options, 'https://graph.facebook.com');
  return {
    provider: 'whatsapp-cloud',
    async send(message, context) {
      const to = message.to.replace(/^\+/, '');
      const content = message.template
        ? {
            type: 'template',
            template: {
              name: message.template.name,
              language: { code: message.template.language },
              ...(message.template.variables.length > 0
                ? { components: [{ type: 'body', parameters: message.template.variables.map((text) => ({ type: 'text', text })) }] }
                : {}),
            },
          }
        : { type: 'text', text: { preview_url: false, body: message.body } };
      const answer = await callProvider(
        'whatsapp',
        http,
        `${http.baseUrl}/${encodeURIComponent(apiVersion)}/${encodeURIComponent(phoneNumberId)}/messages`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to, ...content }),
        },
        context.signal,
      );
      const json = (answer.json ?? {}) as { messages?: { id?: unknown }[]; error?: { code?: unknown; message?: unknown } };
      if (answer.status >= 200 && answer.status < 300) {
        const id = json.messages?.[0]?.id;
        return { providerMessageId: typeof id === 'string' ? id : '' };
      }
      const code = typeof json.error?.code === 'number' ? json.error.code : undefined;
      const text = typeof json.error?.message === 'string' ? `${code !== undefined ? `(#${code}) ` : ''}${json.error.message}` : answer.text;
      const reason = redact(text, [accessToken]);
      if (code !== undefined && THROTTLE_CODES.has(code)) throw answerError('whatsapp', answer, { reason, throttleMs: throttleWaitMs });
      if (code !== undefined && TRANSIENT_CODES.has(code)) throw answerError('whatsapp', answer, { reason, retryable: true });
      throw answerError('whatsapp', answer, { reason });
    },
  };
}
