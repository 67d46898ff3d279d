import { NOTIFICATION_CHANNELS, fairPendingJobsKey, type NotificationChannel } from '@platform/queue';
import type { RedisClient } from '@platform/redis';
import { NOTIFICATION_JOB_ID_PREFIX, channelOfJobId, notificationJobId } from './keys';
import { resolveNotificationQueue, type NotificationQueueDefinition, type NotificationQueueOptions } from './queues';
import { claimNotificationBatched, releaseNotificationScript } from './scripts';
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
  /** The fair backlog's jobs hash of the job's queue (never written for a plain queue). */
  fairJobsKey: string;
  /**
   * On a Redis Cluster the dedupe key, the job and its status live in different slots: the scripts
   * touch the dedupe key only, the caller marks it enqueued after its enqueue.
   */
  split: boolean;
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

/** True for an ioredis `Cluster` (its keys of one notification are in different slots). */
export function isClusterClient(redis: RedisClient): boolean {
  return (redis as { isCluster?: boolean }).isCluster === true;
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
 * `claimNotification-4.lua`): the job id derives from the window bucket, the script checks the
 * bucket against Redis time and, for a claim already there, its job against the queue (BullMQ and
 * the fair backlog) and status, in the same call.
 */
export async function claimNotification(request: ClaimRequest): Promise<HeldClaim | TwinClaim> {
  const { redis, key, keyPrefix, channel, definition, windowMs, pendingTtlMs } = request;
  const split = isClusterClient(redis);
  let nowMs = Date.now();
  let step: Step | undefined;
  for (let call = 0; call < MAX_CALLS; call++) {
    const bucket = Math.floor(nowMs / windowMs);
    const { mode, jobId, definition: queueOfJob } = step ?? { mode: 'own', jobId: notificationJobId(channel, key, windowMs, bucket * windowMs), definition };
    const jobKey = queueOfJob.queue.toKey(jobId);
    const status = statusKey(keyPrefix, jobId);
    const fairJobsKey = fairPendingJobsKey(queueOfJob);
    // On a cluster only the dedupe key is touched (and named four times: one slot). The job's
    // status, which the script reads itself on one slot, is read alongside (another slot).
    const keys = split ? [key, key, key, key] : [key, jobKey, status, fairJobsKey];
    const handled = split && mode === 'own' ? redis.hget(status, 'state').catch(() => null) : undefined;
    const reply = await claimNotificationBatched.run(redis, keys, [windowMs, pendingTtlMs, bucket, jobId, mode, split ? '1' : '0']);
    const code = Number(reply[0]);
    if (code === 1) {
      const claimedAtMs = Number(reply[2]);
      const claim: HeldClaim = { claimed: true, jobId, claimedAtMs, value: `${claimedAtMs + pendingTtlMs}.${jobId.slice(NOTIFICATION_JOB_ID_PREFIX.length)}`, jobKey, statusKey: status, fairJobsKey, split };
      // A fresh claim, but a worker already handled this window's job (the dedupe key was lost and
      // BullMQ removed the job; its status outlives both): a twin, as the script answers on one slot.
      const state = await handled;
      if (state !== undefined && state !== null && state !== 'queued') {
        await markClaimEnqueued(redis, key, claim);
        return { claimed: false, jobId };
      }
      return claim;
    }
    if (code === 0) return reply[1] ? { claimed: false, jobId: String(reply[1]) } : { claimed: false };
    if (code === 2) {
      nowMs = Number(reply[2]);
      step = undefined;
      continue;
    }
    const next = await checkStaleClaim(String(reply[1]), request, split);
    if (!('mode' in next)) return next;
    step = next;
  }
  return { claimed: false };
}

/**
 * A stale claim names `jobId` (another window's or channel's job, or on a cluster any job). Same
 * channel on one server: the "adopt" call checks BullMQ's hash and the fair backlog itself, in the
 * call that takes over. Another channel: its queue is looked up here (a given `queue` is one
 * channel's, so such a claim stands). On a cluster the check is here, by `getJob`, apart from the
 * takeover: a job that enters the fair backlog in between is then refused there as a duplicate id
 * (one job; the late claimer's `enqueue` returns the existing one). A twin when the job is there.
 */
async function checkStaleClaim(jobId: string, request: ClaimRequest, split: boolean): Promise<TwinClaim | Step> {
  const channel = channelOfJobId(jobId);
  if (channel === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) return { claimed: false };
  const sameChannel = channel === request.channel;
  if (!sameChannel && request.options.queue) return { claimed: false };
  const definition = sameChannel ? request.definition : resolveNotificationQueue(channel as NotificationChannel, request.options);
  if ((split || !sameChannel) && (await definition.getJob(jobId))) return { claimed: false, jobId };
  if (split) {
    // What the script checks itself on one slot: a worker recorded a status (the job ran, then
    // BullMQ removed it).
    const state = await request.redis.hget(statusKey(request.keyPrefix, jobId), 'state');
    if (state !== null && state !== 'queued') return { claimed: false, jobId };
  }
  return { mode: sameChannel ? 'adopt' : 'clear', jobId, definition };
}

/**
 * Gives a claim back after its enqueue failed. Resolves `true` when the job turned out to be in
 * the queue (the claim is kept, marked as enqueued). Never rejects: should Redis refuse, the claim
 * can be taken over once its pending time is past.
 */
export async function releaseClaim(redis: RedisClient, key: string, claim: HeldClaim): Promise<boolean> {
  try {
    const released = claim.split
      ? await releaseNotificationScript.run(redis, [key, key, key, key], [claim.value, claim.jobId, (await jobQueued(redis, claim)) ? 'queued' : 'absent'])
      : await releaseNotificationScript.run(redis, [key, claim.jobKey, claim.statusKey, claim.fairJobsKey], [claim.value, claim.jobId, '']);
    return Number(released) === 2;
  } catch {
    return false;
  }
}

/**
 * On a cluster: whether the claim's job is in BullMQ or the fair backlog. One transaction on the
 * queue's slot (both keys share it), so a job handed from the backlog to BullMQ is seen in one.
 */
async function jobQueued(redis: RedisClient, claim: HeldClaim): Promise<boolean> {
  const replies = (await redis.multi().exists(claim.jobKey).hexists(claim.fairJobsKey, claim.jobId).exec()) ?? [];
  return replies.some(([error, value]) => {
    if (error) throw error;
    return Number(value) === 1;
  });
}

/**
 * On a cluster, after the enqueue: writes "job.<jobId>" over the caller's claim (compare-and-set,
 * the release script's "queued" branch), so twins learn the job id at once, as on one slot where
 * the claim script checks the job itself. Never rejects: the claim stands either way.
 */
export async function markClaimEnqueued(redis: RedisClient, key: string, claim: HeldClaim): Promise<void> {
  await releaseNotificationScript.run(redis, [key, key, key, key], [claim.value, claim.jobId, 'queued']).catch(() => 0);
}
