import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import type { RedisClient } from '@platform/redis';
import { NOTIFICATION_JOB_ID_PREFIX, channelOfJobId, notificationJobId } from './keys';
import { resolveNotificationQueue, type NotificationQueueDefinition, type NotificationQueueOptions } from './queues';
import { claimNotificationScript, releaseNotificationScript } from './scripts';
import { statusKey } from './status-store';

/** A dedupe key this call holds: enqueue `jobId`, or give the claim back with {@link releaseClaim}. */
export interface HeldClaim {
  claimed: true;
  jobId: string;
  /** Redis time of the claim (ms). */
  claimedAtMs: number;
  /** The value the claim wrote, for a compare-and-delete. */
  value: string;
  jobKey: string;
  statusKey: string;
}

/** A twin holds the key; `jobId` once its job is known to be queued. */
export interface TwinClaim {
  claimed: false;
  jobId?: string;
}

export interface ClaimRequest {
  redis: RedisClient;
  key: string;
  keyPrefix: string;
  channel: NotificationChannel;
  definition: NotificationQueueDefinition;
  windowMs: number;
  pendingTtlMs: number;
  options: NotificationQueueOptions;
}

/** What the next script call is about. */
interface Step {
  mode: 'own' | 'adopt' | 'clear';
  jobId: string;
  /** The queue holding `jobId`. */
  definition: NotificationQueueDefinition;
}

// Replies 2 (clock, key changed) and 3 (check a job) each need one more call; a few bound a
// pathological loop.
const MAX_CALLS = 5;

/**
 * Claims the dedupe key for the whole window, in one script call on the common path (see
 * `claimNotification-3.lua`): the job id derives from the window bucket, the script checks the
 * bucket against Redis time and, for a claim already there, its job against the queue and status.
 */
export async function claimNotification(request: ClaimRequest): Promise<HeldClaim | TwinClaim> {
  const { redis, key, keyPrefix, channel, definition, windowMs, pendingTtlMs } = request;
  const fair = definition.settings.fairness === 'per-tenant' ? '1' : '0';
  let nowMs = Date.now();
  let step: Step | undefined;
  for (let call = 0; call < MAX_CALLS; call++) {
    const bucket = Math.floor(nowMs / windowMs);
    const { mode, jobId, definition: queueOfJob } = step ?? { mode: 'own', jobId: notificationJobId(channel, key, windowMs, bucket * windowMs), definition };
    const jobKey = queueOfJob.queue.toKey(jobId);
    const status = statusKey(keyPrefix, jobId);
    const reply = await claimNotificationScript.run(redis, [key, jobKey, status], [windowMs, pendingTtlMs, bucket, jobId, mode, fair]);
    const code = Number(reply[0]);
    if (code === 1) {
      const claimedAtMs = Number(reply[2]);
      return { claimed: true, jobId, claimedAtMs, value: `${claimedAtMs + pendingTtlMs}.${jobId.slice(NOTIFICATION_JOB_ID_PREFIX.length)}`, jobKey, statusKey: status };
    }
    if (code === 0) return reply[1] ? { claimed: false, jobId: String(reply[1]) } : { claimed: false };
    if (code === 2) {
      nowMs = Number(reply[1]);
      step = undefined;
      continue;
    }
    const next = await checkStaleClaim(String(reply[1]), request);
    if (!('mode' in next)) return next;
    step = next;
  }
  return { claimed: false };
}

/**
 * A stale claim names `jobId`. Same channel: the script checks BullMQ's hash itself, but a fair
 * queue's backlog only the queue can see. Another channel: its queue is looked up here (a given
 * `queue` is one channel's, so such a claim stands). A twin when the job is there.
 */
async function checkStaleClaim(jobId: string, request: ClaimRequest): Promise<TwinClaim | Step> {
  const channel = channelOfJobId(jobId);
  if (channel === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) return { claimed: false };
  const sameChannel = channel === request.channel;
  if (!sameChannel && request.options.queue) return { claimed: false };
  const definition = sameChannel ? request.definition : resolveNotificationQueue(channel as NotificationChannel, request.options);
  if ((!sameChannel || definition.settings.fairness === 'per-tenant') && (await definition.getJob(jobId))) return { claimed: false, jobId };
  return { mode: sameChannel ? 'adopt' : 'clear', jobId, definition };
}

/**
 * Gives a claim back after its enqueue failed. Resolves `true` when the job turned out to be in
 * the queue (the claim is kept, marked as enqueued). Never rejects: should Redis refuse, the claim
 * can be taken over once its pending time is past.
 */
export async function releaseClaim(redis: RedisClient, key: string, claim: HeldClaim): Promise<boolean> {
  const released = await releaseNotificationScript.run(redis, [key, claim.jobKey, claim.statusKey], [claim.value, claim.jobId]).catch(() => 0);
  return Number(released) === 2;
}
