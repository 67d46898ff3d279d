import type { NotificationSender } from '../sender';
import { answerError, callProvider, httpSettings, redact, requiredString, type ProviderHttpOptions } from './http';

/** Options of {@link createTelegramSender}. */
export interface TelegramSenderOptions extends ProviderHttpOptions {
  /** The bot token from @BotFather (it is part of every request URL). Never logged or put in an error. */
  botToken: string;
  /** Send silently (no sound on the recipient's device). @defaultValue `false` */
  disableNotification?: boolean;
}

/**
 * Telegram over the Bot API (`POST /bot<token>/sendMessage`, JSON). The Bot API has no idempotency key.
 *
 * Answers: `{ ok: true, result: { message_id, chat: { id } } }` → delivered with id
 * `<chat id>:<message id>` (a 2xx whose body cannot be read: delivered without an id); 429 with
 * `parameters.retry_after` (seconds) → deferral for that long;
 * 408 and 5xx → retryable; 401 (token), 400 (chat not found, bad markup), 403 (bot blocked) and
 * other 4xx → permanent.
 */
export function createTelegramSender(options: TelegramSenderOptions): NotificationSender<'telegram'> {
  const botToken = requiredString('botToken', options.botToken);
  const http = httpSettings(options, 'https://api.telegram.org');
  return {
    provider: 'telegram',
    async send(message, context) {
      const answer = await callProvider(
        'telegram',
        http,
        `${http.baseUrl}/bot${botToken}/sendMessage`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            chat_id: message.chatId,
            text: message.text,
            ...(message.parseMode !== undefined ? { parse_mode: message.parseMode } : {}),
            ...(options.disableNotification ? { disable_notification: true } : {}),
          }),
        },
        context.signal,
      );
      const json = (answer.json ?? {}) as {
        ok?: unknown;
        result?: { message_id?: unknown; chat?: { id?: unknown } };
        description?: unknown;
        parameters?: { retry_after?: unknown };
      };
      // Accepted: a 2xx is a message sent unless its body says `ok: false`, also when the body could
      // not be read (cut off): the Bot API has no idempotency key, so a retry would be a second message.
      if (answer.status >= 200 && answer.status < 300 && json.ok !== false) {
        const id = json.result?.message_id;
        const chat = json.result?.chat?.id;
        return { providerMessageId: id === undefined ? '' : `${String(chat ?? message.chatId)}:${String(id)}` };
      }
      const reason = redact(typeof json.description === 'string' ? json.description : answer.text, [botToken]);
      const retryAfter = json.parameters?.retry_after;
      const throttleMs = answer.status === 429 && typeof retryAfter === 'number' && retryAfter >= 0 ? retryAfter * 1000 : undefined;
      throw answerError('telegram', answer.status >= 200 && answer.status < 300 ? { ...answer, status: 502 } : answer, {
        reason,
        ...(throttleMs !== undefined ? { throttleMs } : {}),
      });
    },
  };
}
