import { checkInteger } from '@platform/redis';
import { createTransport } from 'nodemailer';
import { NotificationSendError } from '../errors';
import type { NotificationSender } from '../sender';
import { redact, requiredString } from './http';

/** Options of {@link createSmtpSender}. */
export interface SmtpSenderOptions {
  /** The SMTP server's host name. */
  host: string;
  /** Port. @defaultValue `587` (`465` when `secure`) */
  port?: number;
  /** TLS from the first byte (port 465). With `false`, STARTTLS is used when the server offers it. @defaultValue `false` */
  secure?: boolean;
  /** Refuse to send unless the server offers STARTTLS. @defaultValue `false` */
  requireTls?: boolean;
  /** Credentials; the password is never logged or put in an error. @defaultValue none (no AUTH) */
  auth?: { user: string; pass: string };
  /** Sender address for messages without `from`, e.g. `Acme <noreply@acme.test>`. */
  from: string;
  /** Keep up to this many connections open and reuse them. @defaultValue `1` (pooled) */
  maxConnections?: number;
  /** Time allowed for connecting, the greeting and each command, ms. @defaultValue `10000` */
  timeoutMs?: number;
  /** TLS options passed to Node (e.g. `{ ca }` for a private CA). @defaultValue Node's defaults */
  tls?: { ca?: string | Buffer; servername?: string; rejectUnauthorized?: boolean };
}

/** The sender of {@link createSmtpSender}: closes its pooled connections with `close()`. */
export interface SmtpSender extends NotificationSender<'email'> {
  /** Closes the pooled connections. */
  close(): void;
}

// nodemailer's error codes for "the server could not be reached or went away": retry.
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPROTOCOL', 'ETLS']);

/**
 * E-mail over SMTP with nodemailer (pooled connections). The idempotency key becomes the
 * `Message-ID` (`<key@host of from>`), so a receiving system can drop a repeat, and the
 * `X-Idempotency-Key` header.
 *
 * Answers: `250` → delivered with the `Message-ID`; a 4xx reply (421, 450, 451, 452, …) and no
 * answer (refused, reset, timeout) → retryable; authentication failure (535, `EAUTH`), a 5xx reply
 * (550 unknown recipient, 554, …) → permanent. A message the server refused for some recipients
 * is not delivered: retryable when every refusal was a 4xx, else permanent, the refused ones named.
 */
export function createSmtpSender(options: SmtpSenderOptions): SmtpSender {
  const host = requiredString('host', options.host);
  const from = requiredString('from', options.from);
  const secure = options.secure ?? false;
  const port = checkInteger('port', options.port ?? (secure ? 465 : 587), 1, 65_535);
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 10_000, 1);
  const maxConnections = checkInteger('maxConnections', options.maxConnections ?? 1, 1, 100);
  // The password as typed and as the AUTH exchange sends it (LOGIN: its base64; PLAIN: base64 of
  // "\0user\0pass"), since a server may quote what it got in its reply.
  const secrets = options.auth ? authSecrets(requiredString('auth.user', options.auth.user), requiredString('auth.pass', options.auth.pass)) : [];
  const transport = createTransport({
    host,
    port,
    secure,
    requireTLS: options.requireTls ?? false,
    pool: true,
    maxConnections,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(options.auth ? { auth: { user: requiredString('auth.user', options.auth.user), pass: options.auth.pass } } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    logger: false,
    debug: false,
  });
  return {
    provider: 'smtp',
    close() {
      transport.close();
    },
    async send(message, context) {
      const sender = message.from ?? from;
      const domain = /@([^>\s]+)>?\s*$/.exec(sender)?.[1] ?? 'localhost';
      const messageId = `<${context.idempotencyKey}@${domain}>`;
      let info: { messageId?: unknown; rejected?: unknown; rejectedErrors?: unknown };
      try {
        info = await transport.sendMail({
          from: sender,
          to: message.to,
          subject: message.subject,
          ...(message.text !== undefined ? { text: message.text } : {}),
          ...(message.html !== undefined ? { html: message.html } : {}),
          ...(message.replyTo !== undefined ? { replyTo: message.replyTo } : {}),
          messageId,
          headers: { 'X-Idempotency-Key': context.idempotencyKey },
        });
      } catch (error) {
        throw smtpError(error, secrets);
      }
      // nodemailer sends to the recipients the server accepted and lists the others: not delivered.
      if (Array.isArray(info.rejected) && info.rejected.length > 0) throw refusedRecipientsError(info.rejected, info.rejectedErrors, secrets);
      return { providerMessageId: typeof info.messageId === 'string' && info.messageId !== '' ? info.messageId : messageId };
    },
  };
}

function authSecrets(user: string, pass: string): string[] {
  const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return [pass, base64(pass), base64(`\0${user}\0${pass}`)];
}

/**
 * The send error for a message the server took for some recipients and refused for others (each
 * named with its reply). Retryable only when every refusal was temporary (4xx): the retry goes to
 * every recipient again under the same `Message-ID`; a permanent refusal (5xx) fails it for good.
 */
function refusedRecipientsError(rejected: unknown[], rejectedErrors: unknown, secrets: readonly string[]): NotificationSendError {
  const errors = (Array.isArray(rejectedErrors) ? rejectedErrors : []) as { recipient?: unknown; responseCode?: unknown; response?: unknown }[];
  const reasons = rejected.map((recipient) => {
    const reply = errors.find((e) => e?.recipient === recipient);
    return `${String(recipient)}: ${typeof reply?.response === 'string' ? reply.response : 'refused'}`;
  });
  const temporary = rejected.every((recipient) => {
    const code = errors.find((e) => e?.recipient === recipient)?.responseCode;
    return typeof code === 'number' && code >= 400 && code < 500;
  });
  return new NotificationSendError(redact(`smtp refused ${rejected.length} recipient(s), the others accepted the message: ${reasons.join('; ')}`, secrets), {
    retryable: temporary,
  });
}

/** The send error for a nodemailer failure (exported for tests). */
export function smtpError(error: unknown, secrets: readonly string[]): NotificationSendError {
  const { code, responseCode, response, message } = (error ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };
  const text = redact(typeof response === 'string' ? response : typeof message === 'string' ? message : String(error), secrets);
  if (typeof responseCode === 'number') {
    const permanent = responseCode >= 500 || code === 'EAUTH';
    return new NotificationSendError(`smtp answered ${responseCode}: ${text}`, { retryable: !permanent });
  }
  if (code === 'EAUTH') return new NotificationSendError(`smtp authentication failed: ${text}`, { retryable: false });
  const transient = typeof code === 'string' && TRANSIENT_CODES.has(code);
  return new NotificationSendError(`smtp ${transient ? 'unreachable' : 'failed'}: ${text}`, { retryable: true });
}
