import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import type { Redis } from 'ioredis';
import { channelOfJobId, notificationJobId } from './keys';
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
  redis: Redis;
  key: string;
  keyPrefix: string;
  channel: NotificationChannel;
  definition: NotificationQueueDefinition;
  windowMs: number;
  pendingTtlMs: number;
  options: NotificationQueueOptions;
}

/** Another job id a stale claim named, checked as absent from its queue by this call. */
interface Checked {
  jobId: string;
  jobKey: string;
  sameChannel: boolean;
}

// Replies 2 (clock) and 3 (check a job) each need one more call; a few bound a pathological loop.
const MAX_CALLS = 4;

/**
 * Claims the dedupe key for the whole window, in one script call on the common path (see
 * `claimNotification-5.lua`): ids derive from the window bucket, the script checks the bucket
 * against Redis time and the named job against the queue and its status.
 */
export async function claimNotification(request: ClaimRequest): Promise<HeldClaim | TwinClaim> {
  const { redis, key, keyPrefix, channel, definition, windowMs, pendingTtlMs } = request;
  const queue = definition.queue;
  const fair = definition.settings.fairness === 'per-tenant' ? '1' : '0';
  let nowMs = Date.now();
  let checked: Checked | undefined;
  for (let call = 0; call < MAX_CALLS; call++) {
    const bucket = Math.floor(nowMs / windowMs);
    const own = notificationJobId(channel, key, windowMs, bucket * windowMs);
    const other = checked?.jobId ?? notificationJobId(channel, key, windowMs, (bucket - 1) * windowMs);
    const ownKeys = [queue.toKey(own), statusKey(keyPrefix, own)];
    const otherKeys = [checked?.jobKey ?? queue.toKey(other), statusKey(keyPrefix, other)];
    const mode = checked ? (checked.sameChannel ? 'same' : 'other') : 'prev';
    const reply = await claimNotificationScript.run(redis, [key, ...ownKeys, ...otherKeys], [windowMs, pendingTtlMs, bucket, own, other, mode, fair]);
    const code = Number(reply[0]);
    if (code === 1) {
      const jobId = String(reply[1]);
      const claimedAtMs = Number(reply[2]);
      const [jobKey, status] = jobId === own ? ownKeys : otherKeys;
      return { claimed: true, jobId, claimedAtMs, value: `claim.${claimedAtMs + pendingTtlMs}.${jobId}`, jobKey: jobKey!, statusKey: status! };
    }
    if (code === 0) return reply[1] ? { claimed: false, jobId: String(reply[1]) } : { claimed: false };
    if (code === 2) {
      nowMs = Number(reply[1]);
      continue;
    }
    const found = await checkJob(String(reply[1]), request);
    if (!('jobKey' in found)) return found;
    checked = found;
  }
  return { claimed: false };
}

/**
 * A stale claim named `jobId`, which the script could not find by itself (another channel's job,
 * or a fair queue's backlog): a twin result when the job is in its queue or cannot be looked up,
 * else what the next script call needs to take the claim over.
 */
async function checkJob(jobId: string, request: ClaimRequest): Promise<TwinClaim | Checked> {
  const channel = channelOfJobId(jobId);
  if (channel === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) return { claimed: false };
  const sameChannel = channel === request.channel;
  // A given queue is one channel's: another channel's job cannot be looked up, so the claim stands.
  if (!sameChannel && request.options.queue) return { claimed: false };
  const definition = sameChannel ? request.definition : resolveNotificationQueue(channel as NotificationChannel, request.options);
  if (await definition.getJob(jobId)) return { claimed: false, jobId };
  return { jobId, jobKey: definition.queue.toKey(jobId), sameChannel };
}

/**
 * Gives a claim back after its enqueue failed. Resolves `true` when the job turned out to be in
 * the queue (the claim is kept, marked as enqueued). Never rejects: should Redis refuse, the claim
 * can be taken over once its pending time is past.
 */
export async function releaseClaim(redis: Redis, key: string, claim: HeldClaim): Promise<boolean> {
  const released = await releaseNotificationScript.run(redis, [key, claim.jobKey, claim.statusKey], [claim.value, claim.jobId]).catch(() => 0);
  return Number(released) === 2;
}
