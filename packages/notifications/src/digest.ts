import { randomUUID } from 'node:crypto';
import {
  InvalidArgumentError,
  assertTenantId,
  RedisUnavailableError,
  checkInteger,
  getSharedConnection,
  namespacedKey,
  resolveKeyPrefix,
  toUnavailableError,
  type RedisClient,
} from '@platform/redis';
import { NOTIFICATION_CHANNELS, PayloadTooLargeError, type NotificationChannel } from '@platform/queue';
import type { Span } from '@opentelemetry/api';
import { inSpan, spanAttributes as A, toJobMetadata } from '@platform/telemetry';
import { z } from 'zod';
import { NotificationValidationError } from './errors';
import { digestJobId } from './keys';
import { resolveNotificationQueue, type NotificationQueueOptions } from './queues';
import { backoffFor, resolveRetryPolicy, type RetryPolicyOptions } from './retry';
import { dedupeKeySchema, notificationTypeSchema, type ChannelPayloadInput } from './schemas';
import { addDigestItemScript } from './scripts';

/** BullMQ job name of a digest flush (on the channel's queue). */
export const DIGEST_JOB_NAME = 'digest';

/** What `render` gets besides the items. */
export interface DigestContext {
  tenantId: string;
  type: string;
  recipientKey: string;
  channel: NotificationChannel;
}

/** Builds the one notification a digest sends from all of its items (oldest first). */
export type DigestRender<C extends NotificationChannel = NotificationChannel, T = unknown> = (items: T[], context: DigestContext) => ChannelPayloadInput<C>;

/** One item for {@link notifyDigest}. */
export interface DigestInput<C extends NotificationChannel = NotificationChannel, T = unknown> {
  tenantId: string;
  /** Notification type, e.g. `new-leads`. */
  type: string;
  /** Who the digest is for (a user id, an address): one digest per tenant, type and recipient. */
  recipientKey: string;
  /** The item (JSON); `render` gets all of a batch's items. */
  item: T;
  /** Deduplicates items within a pending batch: a second item with the same key is dropped. @defaultValue a random key (no dedupe) */
  itemKey?: string;
  channel: C;
  /** Debounce: the digest is sent once no new item arrived for this long. */
  windowMs: number;
  /** Longest wait after a batch's first item, so a steady stream still flushes. */
  maxWaitMs: number;
  /** A batch with this many items is sent at once. */
  maxItems: number;
  /**
   * Builds the channel payload from the batch's items. Runs in the worker that sends the digest:
   * `notifyDigest` registers it for this digest (tenant, type, recipient and channel) in this
   * process, so it may hold the recipient's address; a worker in another process gets one per type
   * through its `digests` option.
   */
  render: DigestRender<C, T>;
}

/** Options of {@link notifyDigest}. */
export interface NotifyDigestOptions extends NotificationQueueOptions {
  /** Retry policy of the digest's delivery (as for `notifyOnce`). @defaultValue the default policy */
  retry?: RetryPolicyOptions;
}

/** What {@link notifyDigest} did. */
export interface NotifyDigestResult {
  /** `false` when the item key was already pending in this digest. */
  added: boolean;
  /** Items pending in the digest's batch, this one included. */
  pending: number;
  /** The job id of the batch's delivery (for `getNotificationStatus`). */
  jobId: string;
}

/** The flush job's payload (in `payload` of a notification job). */
export interface DigestJobPayload {
  digest: { key: string; batch: number; recipientKey: string; windowMs: number; maxWaitMs: number; maxItems: number };
}

/**
 * The render of each digest queued in this process, by digest key (tenant, type, recipient and
 * channel: a render often holds its recipient's address, so one digest's never renders another's),
 * with the batch it was last given for. Oldest first; at most {@link MAX_REGISTERED_RENDERS}.
 */
const renderers = new Map<string, { render: DigestRender<NotificationChannel, never>; batch?: number }>();

/** Renders kept per process: those of the digests most recently added to (a process that only adds items never delivers them). */
const MAX_REGISTERED_RENDERS = 10_000;

function registerRender(digestKey: string, render: DigestRender<NotificationChannel, never>): void {
  renderers.delete(digestKey);
  renderers.set(digestKey, { render });
  if (renderers.size > MAX_REGISTERED_RENDERS) renderers.delete(renderers.keys().next().value!);
}

/** The render `notifyDigest` registered in this process for the digest `digestKey`, if any. */
export function registeredRender(digestKey: string): DigestRender<NotificationChannel, never> | undefined {
  return renderers.get(digestKey)?.render;
}

/** Forgets a digest's render once `batch` is delivered, unless an item of a later batch registered it since. */
export function forgetRender(digestKey: string, batch: number): void {
  const entry = renderers.get(digestKey);
  if (entry?.batch !== undefined && entry.batch <= batch) renderers.delete(digestKey);
}

/** Keys live this long after their last item, should every flush job be lost. */
const DIGEST_TTL_MS = 7 * 86_400_000;
const MAX_ITEM_BYTES = 64 * 1024;

const recipientSchema = z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(256);

/**
 * Adds an item to a digest and schedules its delivery: items are collected per (tenant, type,
 * recipient) in Redis and sent as one notification built by `render` from all of them, once no new
 * item arrived for `windowMs` (debounce), or `maxWaitMs` after the batch's first item (so a steady
 * stream still flushes), or as soon as `maxItems` are pending. The flush is a delayed job on the
 * channel's queue, enqueued with every item (one id per batch, so repeats are no-ops): a process
 * that dies between items loses none. Bad input throws before anything is written; Redis down
 * rejects with `RedisUnavailableError`.
 *
 * @example
 * await notifyDigest({
 *   tenantId: 'acme', type: 'new-leads', recipientKey: 'user-1', channel: 'email',
 *   item: { name: lead.name }, itemKey: lead.id, windowMs: 60_000, maxWaitMs: 600_000, maxItems: 50,
 *   render: (leads) => ({ to: 'ada@acme.test', subject: `${leads.length} new leads`, text: leads.map((l) => l.name).join('\n') }),
 * });
 */
export async function notifyDigest<C extends NotificationChannel, T>(input: DigestInput<C, T>, options: NotifyDigestOptions = {}): Promise<NotifyDigestResult> {
  const { tenantId, type, recipientKey, item, channel, render } = input;
  if (!(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) throw new InvalidArgumentError('channel', `must be one of ${NOTIFICATION_CHANNELS.join(', ')}`);
  if (typeof render !== 'function') throw new InvalidArgumentError('render', 'must be a function (items, context) => channel payload');
  const issues = [
    ...pathIssues('type', notificationTypeSchema.safeParse(type)),
    ...pathIssues('recipientKey', recipientSchema.safeParse(recipientKey)),
    ...(input.itemKey !== undefined ? pathIssues('itemKey', dedupeKeySchema.safeParse(input.itemKey)) : []),
  ];
  try {
    assertTenantId(tenantId);
  } catch (error) {
    issues.unshift({ path: 'tenantId', message: (error as Error).message.replace(/^tenantId: /, '') });
  }
  if (issues.length > 0) throw new NotificationValidationError(issues);
  const windowMs = checkInteger('windowMs', input.windowMs, 1);
  const maxWaitMs = checkInteger('maxWaitMs', input.maxWaitMs, windowMs);
  const maxItems = checkInteger('maxItems', input.maxItems, 1, 10_000);
  let json: string | undefined;
  try {
    json = JSON.stringify(item);
  } catch {
    json = undefined;
  }
  if (json === undefined) throw new NotificationValidationError([{ path: 'item', message: 'must be JSON (an object, array, string, number or boolean)' }]);
  if (Buffer.byteLength(json, 'utf8') > MAX_ITEM_BYTES) throw new PayloadTooLargeError('digest item', Buffer.byteLength(json, 'utf8'), MAX_ITEM_BYTES);
  const policy = resolveRetryPolicy(channel, type, options.retry);
  const keyPrefix = resolveKeyPrefix(options.keyPrefix);
  const definition = resolveNotificationQueue(channel, { ...options, keyPrefix });
  const key = namespacedKey(keyPrefix, 'notify-digest', tenantId, type, recipientKey, channel);
  const own = render as unknown as DigestRender<NotificationChannel, never>;
  registerRender(key, own);

  const attributes = { [A.tenant]: tenantId, 'notification.type': type, 'notification.channel': channel };
  return inSpan(`notifyDigest ${channel}`, { attributes }, (span) => addItem({ ...input, key, render: own, json, windowMs, maxWaitMs, maxItems, span }, definition, policy, options));
}

/** Stores one validated item and enqueues (or re-enqueues, a no-op) its batch's flush job. */
async function addItem(
  input: {
    tenantId: string;
    type: string;
    recipientKey: string;
    channel: NotificationChannel;
    itemKey?: string;
    key: string;
    render: DigestRender<NotificationChannel, never>;
    json: string;
    windowMs: number;
    maxWaitMs: number;
    maxItems: number;
    span: Span | undefined;
  },
  definition: ReturnType<typeof resolveNotificationQueue>,
  policy: ReturnType<typeof resolveRetryPolicy>,
  options: NotifyDigestOptions,
): Promise<NotifyDigestResult> {
  const { tenantId, type, recipientKey, channel, key, render, json, windowMs, maxWaitMs, maxItems, span } = input;
  const redis: RedisClient = options.connection ?? getSharedConnection('producer');
  const itemKey = input.itemKey ?? randomUUID();
  // `tc`: this call's trace context, so the delivery's span links to every item's trace.
  const entry = JSON.stringify({ at: Date.now(), item: JSON.parse(json) as unknown, ...(span ? { tc: toJobMetadata(span) } : {}) });
  let reply: [number, number, number, number, number];
  try {
    reply = await addDigestItemScript.run(redis, [key], [itemKey, entry, DIGEST_TTL_MS]);
  } catch (error) {
    throw toUnavailableError(error, `notifyDigest ${definition.name}`, (message, cause) => new RedisUnavailableError(message, { cause }));
  }
  const [added, pending, batch, firstAtMs, nowMs] = reply.map(Number) as [number, number, number, number, number];
  // The batch this render is for: a worker here forgets it once that batch is delivered.
  const registered = renderers.get(key);
  if (registered?.render === render) registered.batch = batch;
  const jobId = digestJobId(channel, key, batch);
  const full = pending >= maxItems;
  const delay = full ? 0 : Math.max(0, Math.min(windowMs, firstAtMs + maxWaitMs - nowMs));
  const payload: DigestJobPayload = { digest: { key, batch, recipientKey, windowMs, maxWaitMs, maxItems } };
  try {
    // One job per batch: enqueued with every item, so a crash after an earlier item cannot leave
    // the batch without its flush; BullMQ ignores the repeats.
    const job = await definition.enqueue({ tenantId, type, dedupeKey: recipientKey, payload: payload as unknown as Record<string, unknown> }, {
      jobName: DIGEST_JOB_NAME,
      jobId,
      delay,
      attempts: policy.attempts,
      backoff: backoffFor(policy, nowMs),
    });
    // A full batch goes now, even when its job was scheduled for later.
    if (full && (await job.isDelayed())) await job.promote().catch(() => undefined);
  } catch (error) {
    throw toUnavailableError(error, `notifyDigest ${definition.name}`, (message, cause) => new RedisUnavailableError(message, { cause }));
  }
  return { added: added === 1, pending, jobId };
}

function pathIssues(path: string, result: { success: boolean; error?: z.ZodError }): { path: string; message: string }[] {
  return result.success ? [] : (result.error?.issues ?? []).map((issue) => ({ path, message: issue.message }));
}
