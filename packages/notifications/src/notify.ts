import { randomUUID } from 'node:crypto';
import {
  PlatformError,
  RedisUnavailableError,
  checkInteger,
  getSharedConnection,
  isConnectionError,
  resolveKeyPrefix,
  toUnavailableError,
} from '@platform/redis';
import { PayloadTooLargeError, type EnqueueOptions } from '@platform/queue';
import { inSpan, spanAttributes as A, spanEvent } from '@platform/telemetry';
import { notificationDeduplicationId, notificationJobId, notifyKey } from './keys';
import { DEFAULT_DEDUPE_TTL_SECONDS, DEFAULT_PENDING_TTL_MS } from './options';
import { backoffFor, resolveRetryPolicy, type RetryPolicyOptions } from './retry';
import { resolveNotificationQueue, type NotificationQueueOptions } from './queues';
import { validateNotification, type NotificationInput } from './schemas';
import { claimNotificationScript, confirmNotificationScript, releaseNotificationScript } from './scripts';
import { initStatus, statusKey } from './status-store';

/** Options of {@link notifyOnce}. */
export interface NotifyOnceOptions extends NotificationQueueOptions {
  /** Dedupe window: twins are suppressed this long after the first is enqueued. @defaultValue `86400` (24 h) */
  ttlSeconds?: number;
  /**
   * How long a claim may stay pending before its job is in the queue; bounds how long a process
   * that dies between claim and enqueue can block the notification. @defaultValue `30000`
   */
  pendingTtlMs?: number;
  /**
   * How the notification is retried: attempts, exponential delays with jitter, an optional expiry,
   * with overrides per channel and per type. The job carries it, so every worker follows it.
   * @defaultValue 25 attempts, 5 s doubling to 30 min per step, jitter 0.2 (6.5–8.2 h in all), no expiry
   */
  retry?: RetryPolicyOptions;
  /**
   * Extra BullMQ job options (`delay`, `priority`, …). `jobId`, `deduplication`, `attempts` and
   * `backoff` are set by `notifyOnce` (from `retry`).
   * @defaultValue the queue's job defaults (completed jobs kept 24 h, failed jobs 7 days)
   */
  jobOptions?: Omit<EnqueueOptions, 'jobId' | 'deduplication' | 'backoff' | 'attempts'>;
}

/** What {@link notifyOnce} did. */
export interface NotifyOnceResult {
  /** `true`: this call put the notification in the queue; `false`: a twin did so within the window. */
  enqueued: boolean;
  /**
   * The BullMQ job id (for `getNotificationStatus`). On a duplicate: the first notification's job id
   * once it is enqueued; absent while that one is still being enqueued.
   */
  jobId?: string;
}

const CONFIRMED_PREFIX = 'job.';

function unavailable(message: string, cause: unknown): RedisUnavailableError {
  return new RedisUnavailableError(message, { cause });
}

/**
 * An enqueue that failed because Redis could not be reached, as a `RedisUnavailableError`: the
 * queue's own `QueueUnavailableError` (code `QUEUE_UNAVAILABLE`) is kept when it already is one,
 * else wrapped with it as the cause. Any other error is returned as it is.
 */
function enqueueFailure(error: unknown, what: string): unknown {
  if (error instanceof RedisUnavailableError) return error;
  if (error instanceof PlatformError && error.code === 'QUEUE_UNAVAILABLE') return unavailable(`${what}: ${error.message}`, error);
  return isConnectionError(error) ? toUnavailableError(error, what, unavailable) : error;
}

/**
 * Sends a notification at most once per tenant, type and dedupe key within the dedupe window
 * (24 h): enqueues one job on `notifications__<channel>` and returns `{ enqueued: true, jobId }`,
 * or `{ enqueued: false }` when a twin already did.
 *
 * How: validates everything first (a bad notification throws `NotificationValidationError`, a too
 * large one `PayloadTooLargeError`, and nothing is written); claims `notify:{tenantId}:{type}:{dedupeKey}` (behind the key prefix, if any)
 * with a short pending TTL in one script (exactly one concurrent caller wins); enqueues the job with
 * an id derived from the key and the window, plus BullMQ deduplication for the window; then raises
 * the key's TTL to the full window if it still holds this call's claim. If the enqueue fails, the
 * claim is released and the call rejects, so the caller can try again.
 *
 * When Redis cannot be reached, the call rejects with `RedisUnavailableError` (code
 * `REDIS_UNAVAILABLE`, or a subclass such as the queue's `QueueUnavailableError`) within the
 * producer connection's `commandTimeoutMs` (claim), plus the queue's `enqueueTimeoutMs` and one
 * more `commandTimeoutMs` (release) when Redis goes away between claim and enqueue.
 *
 * @example
 * await notifyOnce({
 *   tenantId: 'acme', type: 'activity-completed', dedupeKey: activityId, channel: 'email',
 *   payload: { to: 'ada@acme.test', subject: 'Your report is ready', text: '…' },
 * });
 */
export async function notifyOnce(input: NotificationInput, options: NotifyOnceOptions = {}): Promise<NotifyOnceResult> {
  const notification = validateNotification(input);
  const attributes = { [A.tenant]: notification.tenantId, 'notification.type': notification.type, 'notification.channel': notification.channel };
  return inSpan(`notifyOnce ${notification.channel}`, { attributes }, async (span) => {
    const result = await claimAndEnqueue(notification, options);
    span?.setAttribute('notification.enqueued', result.enqueued);
    if (result.jobId !== undefined) span?.setAttribute(A.jobId, result.jobId);
    if (!result.enqueued) spanEvent('notification.dedupe_hit');
    return result;
  });
}

async function claimAndEnqueue(notification: ReturnType<typeof validateNotification>, options: NotifyOnceOptions): Promise<NotifyOnceResult> {
  const ttlSeconds = checkInteger('ttlSeconds', options.ttlSeconds ?? DEFAULT_DEDUPE_TTL_SECONDS, 1);
  const pendingTtlMs = checkInteger('pendingTtlMs', options.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS, 1);
  const jobOptions = { ...options.jobOptions } as EnqueueOptions;
  delete jobOptions.attempts;
  delete jobOptions.backoff;
  const windowMs = ttlSeconds * 1000;
  const keyPrefix = resolveKeyPrefix(options.keyPrefix);

  const { tenantId, type, dedupeKey, channel, payload } = notification;
  const policy = resolveRetryPolicy(channel, type, options.retry);
  const definition = resolveNotificationQueue(channel, options);
  const data = definition.parse({ tenantId, type, dedupeKey, payload });
  const maxBytes = definition.settings.maxPayloadBytes;
  const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
  if (size > maxBytes) throw new PayloadTooLargeError(definition.name, size, maxBytes);

  const redis = options.connection ?? getSharedConnection('producer');
  const key = notifyKey(keyPrefix, tenantId, type, dedupeKey);
  const token = `pending.${randomUUID()}`;
  let claim: Awaited<ReturnType<typeof claimNotificationScript.run>>;
  try {
    claim = await claimNotificationScript.run(redis, [key], [token, pendingTtlMs]);
  } catch (error) {
    throw toUnavailableError(error, `notifyOnce ${definition.name}`, unavailable);
  }
  if (Number(claim[0]) !== 1) {
    const value = String(claim[1]);
    return value.startsWith(CONFIRMED_PREFIX) ? { enqueued: false, jobId: value.slice(CONFIRMED_PREFIX.length) } : { enqueued: false };
  }
  const claimedAtMs = Number(claim[1]);

  let jobId: string;
  try {
    const job = await definition.enqueue(data, {
      ...jobOptions,
      jobId: notificationJobId(channel, key, windowMs, claimedAtMs),
      deduplication: { id: notificationDeduplicationId(key), ttl: windowMs },
      attempts: policy.attempts,
      backoff: backoffFor(policy, claimedAtMs),
    });
    jobId = String(job.id);
  } catch (error) {
    // Give the key back so a retry is not deduplicated against a notification that never made it.
    // Should Redis refuse even that, the claim still ends with its pending TTL.
    await releaseNotificationScript.run(redis, [key], [token]).catch(() => undefined);
    throw enqueueFailure(error, `notifyOnce ${definition.name}`);
  }
  // The job is in the queue: a failure to raise the TTL must not make the caller send it again.
  // The pending claim then expires early, and BullMQ's job id and deduplication refuse a twin.
  // The status starts as queued for the window unless a fast worker already wrote one (sent
  // together with the confirm: one round trip).
  await Promise.all([
    confirmNotificationScript.run(redis, [key], [token, `${CONFIRMED_PREFIX}${jobId}`, windowMs]).catch(() => undefined),
    initStatus(redis, statusKey(keyPrefix, jobId), { state: 'queued', attempts: 0 }, windowMs).catch(() => undefined),
  ]);
  return { enqueued: true, jobId };
}
