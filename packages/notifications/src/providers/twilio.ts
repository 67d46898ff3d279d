import { InvalidArgumentError } from '@platform/redis';
import type { NotificationSender } from '../sender';
import { answerError, callProvider, httpSettings, redact, requiredString, type ProviderHttpOptions } from './http';

/** Options of {@link createTwilioSender}. */
export interface TwilioSenderOptions extends ProviderHttpOptions {
  /** The account SID (`AC…`): part of the URL, and the user name unless `apiKeySid` is given. */
  accountSid: string;
  /** The auth token, or the API key secret when `apiKeySid` is given. Never logged or put in an error. */
  authToken: string;
  /** An API key SID (`SK…`) to authenticate with instead of the account SID. @defaultValue none */
  apiKeySid?: string;
  /** The sending number (E.164). One of `from` or `messagingServiceSid` is required. @defaultValue none */
  from?: string;
  /** A messaging service SID (`MG…`) that picks the sender. @defaultValue none */
  messagingServiceSid?: string;
}

/** Twilio error codes that mean "too many requests": retried later like a 429. */
const TWILIO_THROTTLE_CODES = new Set([20429, 14107]);

/**
 * SMS over the Twilio Messages API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form
 * encoded, HTTP basic auth). Twilio has no idempotency key for this call: a retry after a lost
 * answer can send a second SMS (the worker retries only when no answer or a 408/429/5xx came back).
 *
 * Answers: 201 `{ sid }` → delivered with the SID; 429 with `Retry-After` → deferral; 429 without
 * it, 408 and 5xx → retryable; 401 (credentials), 400 (e.g. 21211 invalid `To`) and other 4xx → permanent.
 */
export function createTwilioSender(options: TwilioSenderOptions): NotificationSender<'sms'> {
  const accountSid = requiredString('accountSid', options.accountSid);
  const authToken = requiredString('authToken', options.authToken);
  const user = options.apiKeySid !== undefined ? requiredString('apiKeySid', options.apiKeySid) : accountSid;
  if (options.from === undefined && options.messagingServiceSid === undefined) {
    throw new InvalidArgumentError('from', 'one of from or messagingServiceSid is required');
  }
  // Either, when given, is sent as is: an empty one would have Twilio refuse every message.
  if (options.from !== undefined) requiredString('from', options.from);
  if (options.messagingServiceSid !== undefined) requiredString('messagingServiceSid', options.messagingServiceSid);
  const http = httpSettings(options, 'https://api.twilio.com');
  const authorization = `Basic ${Buffer.from(`${user}:${authToken}`).toString('base64')}`;
  const secrets = [authToken, authorization.slice('Basic '.length)];
  return {
    provider: 'twilio',
    async send(message, context) {
      const form = new URLSearchParams({ To: message.to, Body: message.body });
      if (options.messagingServiceSid !== undefined) form.set('MessagingServiceSid', options.messagingServiceSid);
      else form.set('From', options.from!);
      const answer = await callProvider(
        'twilio',
        http,
        `${http.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
        { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() },
        context.signal,
      );
      const json = (answer.json ?? {}) as { sid?: unknown; code?: unknown; message?: unknown };
      if (answer.status >= 200 && answer.status < 300) return { providerMessageId: typeof json.sid === 'string' ? json.sid : '' };
      const code = typeof json.code === 'number' ? json.code : undefined;
      const reason = redact(typeof json.message === 'string' ? `${code !== undefined ? `${code} ` : ''}${json.message}` : answer.text, secrets);
      throw answerError('twilio', answer, { reason, ...(code !== undefined && TWILIO_THROTTLE_CODES.has(code) ? { retryable: true } : {}) });
    },
  };
}
