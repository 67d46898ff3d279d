import * as crypto from 'node:crypto';
import { namespacedKey } from '@platform/redis';
import type { NotificationChannel } from '@platform/queue';

/** Prefix of every job id {@link notificationJobId} makes (never an integer, never a `:`). */
export const NOTIFICATION_JOB_ID_PREFIX = 'notify-';

/** One-shot `crypto.hash` (Node 20.12+; about a fifth of `createHash`'s cost for short input), else `createHash`. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;

/** The SHA-1 of `text` as hex. */
function sha1(text: string): string {
  return oneShotHash ? oneShotHash('sha1', text) : crypto.createHash('sha1').update(text).digest('hex');
}

/**
 * The dedupe key of a notification: `notify:{tenantId}:{type}:{dedupeKey}` behind the key prefix
 * (`<keyPrefix>:notify:…` when one is set), each part escaped by `redisKey`, so two different
 * tuples never share a key.
 */
export function notifyKey(keyPrefix: string, tenantId: string, type: string, dedupeKey: string): string {
  return namespacedKey(keyPrefix, 'notify', tenantId, type, dedupeKey);
}

/**
 * The BullMQ job id of a notification: `notify-<channel>-<sha1>`, derived from the dedupe key and
 * the dedupe window the claim fell in (`floor(claimedAtMs / windowMs)`, Redis time). Two claims
 * within one window get the same id, so BullMQ itself refuses a twin; a re-send after the window
 * gets a new id, so a completed or failed job kept for days under the old id cannot swallow it.
 */
export function notificationJobId(channel: NotificationChannel, key: string, windowMs: number, claimedAtMs: number): string {
  const bucket = Math.floor(claimedAtMs / windowMs);
  return `${NOTIFICATION_JOB_ID_PREFIX}${channel}-${sha1(`${key}\n${windowMs}\n${bucket}`)}`;
}

/** The channel encoded in a job id made by {@link notificationJobId}, if any. */
export function channelOfJobId(jobId: string): string | undefined {
  const match = /^notify-([a-z]+)-[0-9a-f]{40}$/.exec(jobId);
  return match?.[1];
}

/**
 * The idempotency key handed to a sender: the same for every attempt of one notification (and for
 * a replay of its failed job), different for a re-send in a later window. For jobs made by
 * `notifyOnce` it is the job id itself; for other jobs a hash of queue, tenant, type, dedupe key and id.
 */
export function idempotencyKeyFor(queueName: string, jobId: string, tenantId: string, type: string, dedupeKey: string): string {
  if (channelOfJobId(jobId) !== undefined) return jobId;
  return `${NOTIFICATION_JOB_ID_PREFIX}${sha1(JSON.stringify([queueName, tenantId, type, dedupeKey, jobId]))}`;
}

/**
 * The job id of a digest batch: `notify-<channel>-<sha1(digest key, batch)>`, like a notification's,
 * so its status and idempotency key work the same way; one id per batch, so adding it again is a no-op.
 */
export function digestJobId(channel: NotificationChannel, digestKey: string, batch: number): string {
  return `${NOTIFICATION_JOB_ID_PREFIX}${channel}-${sha1(`digest\n${digestKey}\n${batch}`)}`;
}
