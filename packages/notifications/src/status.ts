import { InvalidArgumentError, RedisUnavailableError, toUnavailableError } from '@platform/redis';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import { channelOfJobId } from './keys';
import { resolveNotificationQueue, type NotificationQueueOptions } from './queues';

/** Where a notification is in its life. */
export type NotificationState = 'queued' | 'sending' | 'delivered' | 'retrying' | 'failed' | 'expired';

/** Delivery status of one notification (see {@link getNotificationStatus}). */
export interface NotificationStatus {
  /**
   * `queued`: waiting for its first attempt; `sending`: a worker is on it; `retrying`: an attempt
   * failed and the next one is scheduled; `delivered`: the provider accepted it; `failed`: it failed
   * for good (permanent error or out of attempts) and sits in the failed set; `expired`: it outlived
   * its `expireAfterMs` and was dropped without being sent.
   */
  state: NotificationState;
  /** Attempts made so far (finished ones, successful or not). */
  attempts: number;
  /** The last failure's reason (the provider's message), if any attempt failed. */
  lastError?: string;
  /** The provider's message id, once delivered. */
  providerMessageId?: string;
}

/** Options of {@link getNotificationStatus}. */
export interface NotificationStatusOptions extends NotificationQueueOptions {
  /**
   * The channel whose queue holds the job. Job ids made by `notifyOnce` name their channel, so this
   * is only needed for other ids. @defaultValue the channel in the job id
   */
  channel?: NotificationChannel;
}

/**
 * The delivery status of a notification by the `jobId` that `notifyOnce` returned, from the BullMQ
 * job's state. Resolves `null` when no such job exists (never enqueued, or removed after its
 * retention: 24 h after sending, 7 days after failing).
 */
export async function getNotificationStatus(jobId: string, options: NotificationStatusOptions = {}): Promise<NotificationStatus | null> {
  if (typeof jobId !== 'string' || jobId === '') throw new InvalidArgumentError('jobId', 'must be a non-empty string');
  const channel = options.channel ?? channelOfJobId(jobId);
  if (!options.queue && (channel === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel))) {
    throw new InvalidArgumentError('channel', `job id "${jobId}" does not name its channel; pass options.channel`);
  }
  const definition = resolveNotificationQueue((channel ?? 'email') as NotificationChannel, options);
  const queue = definition.queue;
  // State and job hash are two reads; read the state on both sides of the hash until they agree,
  // so that `attempts` and `lastError` belong to the state reported.
  let job: Awaited<ReturnType<typeof queue.getJob>>;
  let bullState: Awaited<ReturnType<typeof queue.getJobState>>;
  try {
    job = await queue.getJob(jobId);
    bullState = job ? await queue.getJobState(jobId) : 'unknown';
    for (let i = 0; i < 5 && job; i++) {
      const before = bullState;
      job = await queue.getJob(jobId);
      bullState = job ? await queue.getJobState(jobId) : 'unknown';
      if (bullState === before) break;
    }
  } catch (error) {
    throw toUnavailableError(error, `getNotificationStatus ${definition.name}`, (message, cause) => new RedisUnavailableError(message, { cause }));
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
      // waiting, prioritized, delayed, waiting-children
      state = attempts > 0 ? 'retrying' : 'queued';
  }
  const status: NotificationStatus = { state, attempts };
  if (job.failedReason) status.lastError = job.failedReason;
  const providerMessageId = (job.returnvalue as { providerMessageId?: unknown } | null | undefined)?.providerMessageId;
  if (state === 'delivered' && typeof providerMessageId === 'string' && providerMessageId !== '') status.providerMessageId = providerMessageId;
  return status;
}
