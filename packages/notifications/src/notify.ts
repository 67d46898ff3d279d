import {
  PlatformError,
  RedisUnavailableError,
  checkInteger,
  getSharedConnection,
  isConnectionError,
  resolveKeyPrefix,
  toUnavailableError,
} from '@platform/redis';
import type { EnqueueOptions } from '@platform/queue';
import { checkPayloadSize, notificationJobSchema, parsedEnqueueOf } from '@platform/queue/internal';
import { inSpan, spanAttributes as A, spanEvent } from '@platform/telemetry';
import { claimNotification, markClaimEnqueued, releaseClaim } from './claim';
import { notifyKey } from './keys';
import { DEFAULT_DEDUPE_TTL_SECONDS, DEFAULT_PENDING_TTL_MS } from './options';
import { backoffFor, resolveRetryPolicy, type RetryPolicyOptions } from './retry';
import { resolveNotificationQueue, type NotificationQueueOptions } from './queues';
import { DEFAULT_STATUS_TTL_MS } from './status-store';
import { validateNotification, type NotificationInput } from './schemas';

/** Options of {@link notifyOnce}. */
export interface NotifyOnceOptions extends NotificationQueueOptions {
  /** Dedupe window: twins are suppressed this long after the first is enqueued. @defaultValue `86400` (24 h) */
  ttlSeconds?: number;
  /**
   * How long this call's claim is safe from takeover before its job is in the queue: a later call
   * that finds the claim older than this and its job neither queued nor handled by a worker takes
   * it over. Bounds how long a process that dies between claim and enqueue can block the
   * notification. @defaultValue `30000`
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
 * large one `PayloadTooLargeError`, and nothing is written); then two round trips. One script claims
 * `notify:{tenantId}:{type}:{dedupeKey}` (behind the key prefix, if any) for the whole window,
 * naming the job it is for (an id derived from the key and the window; exactly one concurrent
 * caller wins); then the job is enqueued under that id. No status record is written: a job without
 * one reads as `queued` (see `getNotificationStatus`), and the worker creates it, kept for the
 * window, when it first takes the job. If the
 * enqueue fails, the claim is released and the call rejects, so the caller can try again. A claim
 * older than `pendingTtlMs` whose job is neither in the queue (BullMQ or, on a fair queue such as
 * the catalog's, the fair backlog) nor handled by a worker (its claimer died before enqueueing) is
 * taken over by the next call, under the same job id.
 *
 * When Redis cannot be reached, the call rejects with `RedisUnavailableError` (code
 * `REDIS_UNAVAILABLE`, or a subclass such as the queue's `QueueUnavailableError`) within the
 * producer connection's `commandTimeoutMs` (claim), plus the queue's `enqueueTimeoutMs` and one
 * more `commandTimeoutMs` (release) when Redis goes away between claim and enqueue. (A claim that
 * meets a stale claim of another window's or channel's job, or any stale claim on a Redis Cluster,
 * looks that job up first: a few more calls, each bounded the same way.)
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
  const windowMs = ttlSeconds * 1000;
  const keyPrefix = resolveKeyPrefix(options.keyPrefix);

  const { tenantId, type, dedupeKey, channel, payload } = notification;
  const policy = resolveRetryPolicy(channel, type, options.retry);
  const definition = resolveNotificationQueue(channel, options);
  // The size is checked here, by the queue's own bound (it serialises only near the limit), so
  // that a too large notification writes nothing, not even a claim.
  const data = { tenantId, type, dedupeKey, payload };
  checkPayloadSize(definition.name, data, definition.settings.maxPayloadBytes);

  const redis = options.connection ?? getSharedConnection('producer');
  const key = notifyKey(keyPrefix, tenantId, type, dedupeKey);
  let claim: Awaited<ReturnType<typeof claimNotification>>;
  try {
    claim = await claimNotification({ redis, key, keyPrefix, channel, definition, windowMs, pendingTtlMs, options });
  } catch (error) {
    throw toUnavailableError(error, `notifyOnce ${definition.name}`, unavailable);
  }
  if (!claim.claimed) return claim.jobId === undefined ? { enqueued: false } : { enqueued: false, jobId: claim.jobId };

  // The job id names the claim's window, so BullMQ itself refuses a twin of the same window:
  // no BullMQ deduplication option on top. No status record: the worker creates it on its first
  // touch, kept for the window the job carries (only when it is not the worker's default).
  const statusTtlMs = windowMs === DEFAULT_STATUS_TTL_MS ? undefined : windowMs;
  const backoff = backoffFor(policy, claim.claimedAtMs, statusTtlMs);
  const jobOptions: EnqueueOptions =
    options.jobOptions === undefined ? { jobId: claim.jobId, attempts: policy.attempts, backoff } : { ...options.jobOptions, jobId: claim.jobId, attempts: policy.attempts, backoff };
  // `delete` only when there is something to drop (it turns the object into a slow dictionary).
  if ('deduplication' in jobOptions) delete jobOptions.deduplication;
  try {
    // validateNotification is stricter than the channel queue's schema and the size is checked:
    // the queue's enqueue without its own zod pass and size check, unless `options.queue` is a
    // queue of another schema or a wrapper (then its own enqueue).
    const parsed = parsedEnqueueOf(definition, notificationJobSchema);
    const job = await (parsed ? parsed(data, jobOptions) : definition.enqueue(data, jobOptions));
    // On a cluster the claim could not see the job (another slot): the key is marked as enqueued,
    // so twins learn the job id at once. Best effort: the notification is queued either way.
    if (claim.split) await markClaimEnqueued(redis, key, claim);
    return { enqueued: true, jobId: String(job.id) };
  } catch (error) {
    // Give the key back so a retry is not deduplicated against a notification that never made it
    // (kept when the job is there after all). Should Redis refuse even that, the claim can be taken
    // over once its pending time is past.
    await releaseClaim(redis, key, claim);
    throw enqueueFailure(error, `notifyOnce ${definition.name}`);
  }
}
