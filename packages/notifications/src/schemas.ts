import { assertTenantId } from '@platform/redis';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import { z } from 'zod';
import { NotificationValidationError, type NotificationIssue } from './errors';

/** E.164 phone number: `+`, a non-zero digit, then 7 to 14 digits (e.g. `+4915112345678`). */
export const E164_PATTERN = /^\+[1-9]\d{7,14}$/;

const e164 = z.string().regex(E164_PATTERN, 'must be an E.164 phone number such as +4915112345678');
const emailAddress = z.email({ error: 'must be an e-mail address' });
// `from` may carry a display name: `Acme <noreply@acme.test>`.
const fromAddress = z
  .string()
  .max(320)
  .refine(
    (value) => z.email().safeParse(value).success || /^[^<>]{1,200}<[^<>\s]+@[^<>\s]+>$/.test(value.trim()),
    'must be an e-mail address or "Name <address>"',
  );

/** E-mail: `to` (one address or up to 50), `subject`, `text` and/or `html`, optional `from` and `replyTo`. */
export const emailPayloadSchema = z
  .object({
    to: z.union([emailAddress, z.array(emailAddress).min(1).max(50)]),
    subject: z.string().min(1, 'must not be empty').max(998),
    text: z.string().min(1).optional(),
    html: z.string().min(1).optional(),
    from: fromAddress.optional(),
    replyTo: emailAddress.optional(),
  })
  .refine((p) => p.text !== undefined || p.html !== undefined, {
    error: 'text or html is required',
    path: ['text'],
  });

/** SMS: E.164 `to` and a `body` of at most 1600 characters (ten concatenated segments). */
export const smsPayloadSchema = z.object({
  to: e164,
  body: z.string().min(1, 'must not be empty').max(1600),
});

/** A WhatsApp template message: template name, language code, positional variables. */
export const whatsappTemplateSchema = z.object({
  name: z.string().min(1).max(512),
  language: z.string().min(2).max(16).default('en'),
  variables: z.array(z.string()).max(100).default([]),
});

/** WhatsApp: E.164 `to` and a `template` (outside the 24 h session window) or a free-form `body`. */
export const whatsappPayloadSchema = z
  .object({
    to: e164,
    template: whatsappTemplateSchema.optional(),
    body: z.string().min(1).max(4096).optional(),
  })
  .refine((p) => p.template !== undefined || p.body !== undefined, {
    error: 'template or body is required',
    path: ['body'],
  });

/** Telegram: `chatId` (numeric id or `@channelname`) and `text` of at most 4096 characters. */
export const telegramPayloadSchema = z.object({
  chatId: z.union([z.number().int(), z.string().regex(/^(-?\d{1,20}|@[A-Za-z0-9_]{4,64})$/, 'must be a numeric chat id or @channelname')]),
  text: z.string().min(1, 'must not be empty').max(4096),
  parseMode: z.enum(['MarkdownV2', 'HTML']).optional(),
});

/** Web (in-app / push): `userId`, `title`, `body`, optional `url` to open. */
export const webPayloadSchema = z.object({
  userId: z.string().min(1).max(256),
  title: z.string().min(1, 'must not be empty').max(256),
  body: z.string().min(1, 'must not be empty').max(4096),
  url: z.url().optional(),
});

/** The payload schema of each channel. */
export const channelPayloadSchemas = {
  email: emailPayloadSchema,
  sms: smsPayloadSchema,
  whatsapp: whatsappPayloadSchema,
  telegram: telegramPayloadSchema,
  web: webPayloadSchema,
} as const;

/** The validated payload of channel `C`. */
export type ChannelPayload<C extends NotificationChannel = NotificationChannel> = z.output<(typeof channelPayloadSchemas)[C]>;

/** What callers pass as the payload of channel `C` (before defaults). */
export type ChannelPayloadInput<C extends NotificationChannel = NotificationChannel> = z.input<(typeof channelPayloadSchemas)[C]>;

/** Notification type: 1–128 characters without whitespace, e.g. `activity-completed`. */
export const notificationTypeSchema = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(128)
  .regex(/^\S*$/, 'must not contain whitespace');

/** Dedupe key within tenant and type: 1–512 characters (escaped in the Redis key, so any text works). */
export const dedupeKeySchema = z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(512);

const tenantIdSchema = z.unknown().superRefine((value, ctx) => {
  try {
    assertTenantId(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^tenantId: /, '') });
  }
});

const envelopeSchema = z.object({
  tenantId: tenantIdSchema,
  type: notificationTypeSchema,
  dedupeKey: dedupeKeySchema,
  channel: z.enum(NOTIFICATION_CHANNELS, { error: `must be one of ${NOTIFICATION_CHANNELS.join(', ')}` }),
});

/** A notification for channel `C`, as `notifyOnce` takes it. */
export interface NotificationInputFor<C extends NotificationChannel> {
  /** The tenant (1–128 of `[A-Za-z0-9_.@-]`; no `:`). */
  tenantId: string;
  /** Notification type, e.g. `activity-completed`. */
  type: string;
  /** What makes this notification unique within tenant and type, e.g. the activity id. */
  dedupeKey: string;
  /** Delivery channel; also picks the queue `notifications__<channel>`. */
  channel: C;
  /** The channel's payload, see {@link channelPayloadSchemas}. */
  payload: ChannelPayloadInput<C>;
}

/** A notification for any channel (a union discriminated by `channel`). */
export type NotificationInput = { [C in NotificationChannel]: NotificationInputFor<C> }[NotificationChannel];

/** A validated notification. */
export interface ValidNotification {
  tenantId: string;
  type: string;
  dedupeKey: string;
  channel: NotificationChannel;
  payload: Record<string, unknown>;
}

function issuesOf(error: z.ZodError, prefix: string[] = []): NotificationIssue[] {
  return error.issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)].join('.'), message: issue.message }));
}

/**
 * Validates a whole notification (envelope and channel payload) and returns it with defaults
 * applied. Throws {@link NotificationValidationError} listing every issue.
 */
export function validateNotification(input: unknown): ValidNotification {
  if (typeof input !== 'object' || input === null) {
    throw new NotificationValidationError([{ path: '', message: 'must be an object' }]);
  }
  // Fast path: one zod pass over envelope and payload together (about a third of the two passes
  // below); the two passes only run to report the issues of an invalid notification.
  const channel = (input as { channel?: unknown }).channel;
  const whole = typeof channel === 'string' && Object.hasOwn(notificationSchemas, channel) ? notificationSchemas[channel as NotificationChannel].safeParse(input) : undefined;
  if (whole?.success) return whole.data as ValidNotification;
  return validateInParts(input);
}

/** The envelope and the payload of each channel, as one schema (the valid notification's shape). */
const notificationSchemas = Object.fromEntries(
  NOTIFICATION_CHANNELS.map((channel) => [channel, envelopeSchema.extend({ channel: z.literal(channel), payload: channelPayloadSchemas[channel] as z.ZodType })]),
) as unknown as Record<NotificationChannel, z.ZodType>;

/** Validates envelope and payload apart, so that an invalid notification reports every issue of both. */
function validateInParts(input: object): ValidNotification {
  const issues: NotificationIssue[] = [];
  const envelope = envelopeSchema.safeParse(input);
  if (!envelope.success) issues.push(...issuesOf(envelope.error));
  const channel = (input as { channel?: unknown }).channel;
  let payload: Record<string, unknown> | undefined;
  if (typeof channel === 'string' && (NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) {
    const parsed = parsePayload(channel as NotificationChannel, (input as { payload?: unknown }).payload);
    if (parsed.success) payload = parsed.data;
    else issues.push(...parsed.issues);
  }
  if (issues.length > 0 || !envelope.success || payload === undefined) throw new NotificationValidationError(issues);
  return { ...envelope.data, tenantId: envelope.data.tenantId as string, payload };
}

/** Validates a channel payload; on failure the issues' paths start with `payload`. */
export function parsePayload(
  channel: NotificationChannel,
  payload: unknown,
): { success: true; data: Record<string, unknown> } | { success: false; issues: NotificationIssue[] } {
  const schema: z.ZodType = channelPayloadSchemas[channel];
  const result = schema.safeParse(payload);
  if (result.success) return { success: true, data: result.data as Record<string, unknown> };
  return { success: false, issues: issuesOf(result.error, ['payload']) };
}
