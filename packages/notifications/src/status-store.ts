import { namespacedKey, type RedisClient } from '@platform/redis';
import type { NotificationChannel } from '@platform/queue';
import { channelOfJobId } from './keys';
import { setNotificationStatusScript } from './scripts';

/** Where a notification is in its life (see `getNotificationStatus`). */
export type NotificationState = 'queued' | 'sending' | 'delivered' | 'retrying' | 'deferred' | 'failed' | 'expired';

/** A status record as stored (every value a string in the hash). */
export interface StoredStatus {
  state: NotificationState;
  /** Attempts spent so far. */
  attempts?: number;
  /** The last failure's reason. */
  lastError?: string;
  /** The provider's message id, once delivered. */
  providerMessageId?: string;
  /** Why it is deferred (`provider-throttled`, `circuit-open`, `rate-limit`, …). */
  reason?: string;
  /** When a deferred or retrying notification is tried next, ms since the epoch. */
  retryAt?: number;
}

/** How long a status record is kept when its job carries no window of its own (jobs not queued by notifyOnce, or with the default window): 24 h. */
export const DEFAULT_STATUS_TTL_MS = 86_400_000;

/**
 * The status key of a job: `notify-status:{jobId}` behind the key prefix for an id that names its
 * channel (notifyOnce's and digests'); `notify-status:{channel}:{jobId}` for any other id given its
 * channel, since the queue of another channel (another tenant's job) may hold the same id.
 */
export function statusKey(keyPrefix: string, jobId: string, channel?: NotificationChannel): string {
  if (channel === undefined || channelOfJobId(jobId) !== undefined) return namespacedKey(keyPrefix, 'notify-status', jobId);
  return namespacedKey(keyPrefix, 'notify-status', channel, jobId);
}

function pairs(status: StoredStatus): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(status)) if (value !== undefined) out.push(field, String(value));
  return out;
}

/**
 * Replaces the state and its details, keeping the status's TTL; the first write creates it, kept
 * `ttlMs` (notifyOnce writes none: the worker's first touch of a job creates it).
 */
export async function updateStatus(redis: RedisClient, key: string, status: StoredStatus, ttlMs = DEFAULT_STATUS_TTL_MS): Promise<void> {
  await setNotificationStatusScript.run(redis, [key], [ttlMs, ...pairs(status)]);
}

/** Reads a status, or `null` when there is none. */
export async function readStatus(redis: RedisClient, key: string): Promise<(StoredStatus & { updatedAt?: number }) | null> {
  const fields = await redis.hgetall(key);
  if (!fields.state) return null;
  const status: StoredStatus & { updatedAt?: number } = { state: fields.state as NotificationState };
  if (fields.attempts !== undefined) status.attempts = Number(fields.attempts);
  if (fields.lastError !== undefined) status.lastError = fields.lastError;
  if (fields.providerMessageId !== undefined) status.providerMessageId = fields.providerMessageId;
  if (fields.reason !== undefined) status.reason = fields.reason;
  if (fields.retryAt !== undefined) status.retryAt = Number(fields.retryAt);
  if (fields.updatedAt !== undefined) status.updatedAt = Number(fields.updatedAt);
  return status;
}
