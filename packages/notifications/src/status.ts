import { InvalidArgumentError, RedisUnavailableError, getSharedConnection, resolveKeyPrefix, toUnavailableError, type RedisClient } from '@platform/redis';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import { channelOfJobId } from './keys';
import { resolveNotificationQueue, type NotificationQueueOptions } from './queues';
import { readStatus, statusKey, type NotificationState } from './status-store';

export type { NotificationState } from './status-store';

/** Delivery status of one notification (see {@link getNotificationStatus}). */
export interface NotificationStatus {
  /**
   * `queued`: waiting for its first attempt; `sending`: a worker is on it; `retrying`: an attempt
   * failed and the next one is scheduled; `deferred`: held without spending an attempt (`reason`:
   * `provider-throttled`, `circuit-open`, `rate-limit`, …); `delivered`: the provider accepted it;
   * `failed`: it failed for good (permanent error or out of attempts) and sits in the failed set;
   * `expired`: it outlived its `expireAfterMs` and was dropped without being sent.
   */
  state: NotificationState;
  /** Attempts spent so far (a deferral spends none). */
  attempts: number;
  /** The last failure's reason (the provider's message), if any attempt failed. */
  lastError?: string;
  /** The provider's message id, once delivered. */
  providerMessageId?: string;
  /** Why it is deferred. */
  reason?: string;
  /** When a deferred notification is tried again, ms since the epoch. */
  retryAt?: number;
}

/** Options of {@link getNotificationStatus}. */
export interface NotificationStatusOptions extends NotificationQueueOptions {
  /**
   * The channel whose queue holds the job, for a job whose id does not name the channel (ids made
   * by `notifyOnce` do): needed while it has no status record, and when several channels' jobs have
   * that id. @defaultValue the channel in the job id
   */
  channel?: NotificationChannel;
}

function unavailable(error: unknown): unknown {
  return toUnavailableError(error, 'getNotificationStatus', (message, cause) => new RedisUnavailableError(message, { cause }));
}

/**
 * The delivery status of a notification by the `jobId` that `notifyOnce` returned. Workers record
 * every step (`notify-status:{jobId}`, or `notify-status:{channel}:{jobId}` for an id that does not
 * name its channel; created when a worker first takes the job and kept for the
 * dedupe window, so the answer outlives the BullMQ job); a job without that record is judged by its
 * state in the queue (`queued` while it waits, in BullMQ or in a fair queue's backlog). Resolves
 * `null` when neither exists. Rejects with `RedisUnavailableError` when Redis cannot be reached.
 */
export async function getNotificationStatus(jobId: string, options: NotificationStatusOptions = {}): Promise<NotificationStatus | null> {
  if (typeof jobId !== 'string' || jobId === '') throw new InvalidArgumentError('jobId', 'must be a non-empty string');
  const keyPrefix = resolveKeyPrefix(options.keyPrefix);
  const redis = options.connection ?? getSharedConnection('producer');
  let stored = await readOwnStatus(redis, keyPrefix, jobId, options.channel);
  if (stored) return fromRecord(stored);
  const fromJob = await statusFromJob(jobId, options);
  if (fromJob) return fromJob;
  // No job either: a worker may have created the record and finished (and BullMQ removed the job)
  // between the two reads.
  stored = await readOwnStatus(redis, keyPrefix, jobId, options.channel);
  return stored ? fromRecord(stored) : null;
}

/**
 * The job's status record. An id that does not name its channel has one record per channel that
 * holds it: read the given channel's, else every channel's, and refuse to pick one of several.
 */
async function readOwnStatus(redis: RedisClient, keyPrefix: string, jobId: string, channel: NotificationChannel | undefined): Promise<StoredRecord | null> {
  const channels = channelOfJobId(jobId) !== undefined || channel !== undefined ? [channel] : NOTIFICATION_CHANNELS;
  let found: StoredRecord[];
  try {
    found = (await Promise.all(channels.map((c) => readStatus(redis, statusKey(keyPrefix, jobId, c))))).filter((s): s is StoredRecord => s !== null);
  } catch (error) {
    throw unavailable(error);
  }
  if (found.length > 1) throw new InvalidArgumentError('channel', `job id "${jobId}" has a status on more than one channel; pass options.channel`);
  return found[0] ?? null;
}

type StoredRecord = NonNullable<Awaited<ReturnType<typeof readStatus>>>;

function fromRecord(stored: StoredRecord): NotificationStatus {
  const { updatedAt: _updatedAt, attempts = 0, ...rest } = stored;
  return { ...rest, attempts };
}

/** The status of a job that has no status record, from its BullMQ state. */
async function statusFromJob(jobId: string, options: NotificationStatusOptions): Promise<NotificationStatus | null> {
  const channel = options.channel ?? channelOfJobId(jobId);
  if (!options.queue && (channel === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel))) {
    throw new InvalidArgumentError('channel', `job id "${jobId}" does not name its channel; pass options.channel`);
  }
  const definition = resolveNotificationQueue((channel ?? 'email') as NotificationChannel, options);
  // In BullMQ or, on a fair queue, in its backlog. State and job hash are two reads; read the state on both sides of the hash until they agree,
  // so that `attempts` and `lastError` belong to the state reported.
  let job: Awaited<ReturnType<typeof definition.getJob>>;
  // BullMQ's state, or 'pending' (FairJobState) while the job waits in a fair queue's backlog.
  let bullState: string;
  try {
    job = await definition.getJob(jobId);
    bullState = job ? await job.getState() : 'unknown';
    for (let i = 0; i < 5 && job; i++) {
      const before: string = bullState;
      job = await definition.getJob(jobId);
      bullState = job ? await job.getState() : 'unknown';
      if (bullState === before) break;
    }
  } catch (error) {
    throw unavailable(error);
  }
  if (!job) return null;
  const attempts = job.attemptsMade;
  let state: NotificationState;
  switch (bullState) {
    case 'active':
      state = 'sending';
      break;
    case 'completed':
      state = (job.returnvalue as { expired?: unknown } | null | undefined)?.expired === true ? 'expired' : 'delivered';
      break;
    case 'failed':
      state = 'failed';
      break;
    case 'unknown':
      return null;
    default:
      // waiting, prioritized, delayed, waiting-children, pending (a fair queue's backlog)
      state = attempts > 0 ? 'retrying' : 'queued';
  }
  const status: NotificationStatus = { state, attempts };
  if (job.failedReason) status.lastError = job.failedReason;
  const providerMessageId = (job.returnvalue as { providerMessageId?: unknown } | null | undefined)?.providerMessageId;
  if (state === 'delivered' && typeof providerMessageId === 'string' && providerMessageId !== '') status.providerMessageId = providerMessageId;
  return status;
}
