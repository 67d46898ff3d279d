import {
  createWorker,
  type CreateWorkerOptions,
  type NotificationChannel,
  type notificationJobSchema,
  type TenantPayload,
} from '@platform/queue';
import { InvalidArgumentError, checkInteger, checkNumber, isDeferral } from '@platform/redis';
import { DelayedError, UnrecoverableError, type BackoffStrategy, type MinimalJob, type Worker } from 'bullmq';
import { classifySendError } from './classify';
import { idempotencyKeyFor } from './keys';
import { defaultNotificationBackoff } from './options';
import { resolveNotificationQueue, type NotificationQueueDefinition } from './queues';
import { parsePayload, type ChannelPayload } from './schemas';
import type { NotificationSender, SendResult } from './sender';

/** Backoff between attempts of a notification job. */
export interface NotificationBackoffOptions {
  /**
   * Base delay: attempt n waits `delayMs * 2^(n-1)`. A job's own `backoff.delay` (set by
   * `notifyOnce`'s `jobOptions.backoffDelayMs`) is used instead when this is not given.
   * @defaultValue the job's `backoff.delay`, else `1000`
   */
  delayMs?: number;
  /** Upper bound of the exponential delay. @defaultValue `300000` (5 min) */
  maxDelayMs?: number;
  /** Share of the delay that is random: the wait is in `[d * (1 - jitter), d]`. @defaultValue `0.5` */
  jitter?: number;
  /**
   * Longest `Retry-After` honoured, and longest deferral (a 429 with a retry hint, a rate limit):
   * a longer one is cut to this. @defaultValue `3600000` (1 h)
   */
  maxRetryAfterMs?: number;
}

/** Options of {@link createNotificationWorker}: the platform worker's options plus these. */
export interface NotificationWorkerOptions extends Omit<CreateWorkerOptions, 'settings'> {
  /**
   * Key prefix (must match the producers'): the queue lives under the BullMQ prefix `<keyPrefix>:bull`.
   * @defaultValue `REDIS_KEY_PREFIX` from the environment, else `''` (BullMQ prefix `bull`)
   */
  keyPrefix?: string;
  /** A queue definition to consume instead of `notificationQueue(channel, …)`. @defaultValue none */
  queue?: NotificationQueueDefinition;

  /** Backoff between attempts. @defaultValue see {@link NotificationBackoffOptions} */
  backoff?: NotificationBackoffOptions;
}

/** The return value of a delivered notification job (`job.returnvalue`). */
export interface NotificationJobResult extends SendResult {
  /** The idempotency key the sender got. */
  idempotencyKey: string;
}

/**
 * The backoff strategy of notification jobs: the provider's `Retry-After` when the error carries one
 * (`retryAfterMs`), else exponential from `delayMs` with jitter, capped at `maxDelayMs`.
 */
export function notificationBackoffStrategy(options: NotificationBackoffOptions = {}): BackoffStrategy {
  const maxDelayMs = checkInteger('backoff.maxDelayMs', options.maxDelayMs ?? defaultNotificationBackoff.maxDelayMs, 0);
  const jitter = checkNumber('backoff.jitter', options.jitter ?? defaultNotificationBackoff.jitter, 0, 1);
  const maxRetryAfterMs = checkInteger('backoff.maxRetryAfterMs', options.maxRetryAfterMs ?? defaultNotificationBackoff.maxRetryAfterMs, 0);
  if (options.delayMs !== undefined) checkInteger('backoff.delayMs', options.delayMs, 0);
  return (attemptsMade: number, _type?: string, error?: Error, job?: MinimalJob): number => {
    const retryAfterMs = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
      return Math.min(Math.round(retryAfterMs), maxRetryAfterMs);
    }
    const jobDelay = job?.opts.backoff && typeof job.opts.backoff === 'object' ? job.opts.backoff.delay : undefined;
    const base = options.delayMs ?? jobDelay ?? defaultNotificationBackoff.delayMs;
    const delay = Math.min(base * 2 ** Math.max(0, attemptsMade - 1), maxDelayMs);
    return Math.round(delay * (1 - jitter) + Math.random() * delay * jitter);
  };
}

/**
 * Starts a worker that delivers the notifications of one channel through `sender`.
 *
 * Each job's payload is validated against the channel schema (an invalid one fails at once). The
 * sender gets the message and an idempotency key that is the same for every attempt. A deferral
 * (`isDeferral`: a 429 with a retry hint, a `RateLimitError`) delays the job by its `retryAfterMs`
 * without spending an attempt. A retryable
 * failure (429, 408, 5xx, network) is retried with exponential backoff and jitter, or after the
 * provider's `Retry-After`; a permanent one (other 4xx, invalid address) fails the job at once with
 * BullMQ's `UnrecoverableError`. After the last attempt the job stays in the failed set (7 days by
 * the queue defaults) with the provider's reason as `failedReason`, ready to be retried.
 *
 * @example
 * const worker = createNotificationWorker('email', createWebhookSender({ url: 'https://mailer.internal/send' }));
 */
export function createNotificationWorker<C extends NotificationChannel>(
  channel: C,
  sender: NotificationSender<C>,
  options: NotificationWorkerOptions = {},
): Worker<TenantPayload<typeof notificationJobSchema>, NotificationJobResult> {
  if (typeof sender?.send !== 'function') throw new InvalidArgumentError('sender', 'must have a send(message, context) function');
  const { keyPrefix, queue, backoff, ...workerOptions } = options;
  const definition = resolveNotificationQueue(channel, { ...(queue ? { queue } : {}), ...(keyPrefix !== undefined ? { keyPrefix } : {}) });
  const backoffStrategy = notificationBackoffStrategy(backoff);
  const maxDeferralMs = checkInteger('backoff.maxRetryAfterMs', backoff?.maxRetryAfterMs ?? defaultNotificationBackoff.maxRetryAfterMs, 0);

  return createWorker(
    definition,
    async (job, { tenantId, signal, token }): Promise<NotificationJobResult> => {
      const { type, dedupeKey } = job.data;
      const parsed = parsePayload(channel, job.data.payload);
      if (!parsed.success) {
        const list = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new UnrecoverableError(`Invalid ${channel} payload: ${list}`);
      }
      const jobId = String(job.id);
      const idempotencyKey = idempotencyKeyFor(definition.name, jobId, tenantId, type, dedupeKey);
      let result: SendResult;
      try {
        result = await sender.send(parsed.data as ChannelPayload<C>, {
          idempotencyKey,
          tenantId,
          channel,
          type,
          dedupeKey,
          jobId,
          attempt: job.attemptsMade + 1,
          signal,
        });
      } catch (error) {
        if (isDeferral(error) && token) {
          // Come back later without spending an attempt, whatever the underlying worker does with
          // deferrals: the job is delayed here, and BullMQ's DelayedError leaves attemptsMade alone.
          await job.moveToDelayed(Date.now() + Math.max(1, Math.min(Math.round(error.retryAfterMs), maxDeferralMs)), token);
          throw new DelayedError();
        }
        const classified = classifySendError(error);
        if (!classified.retryable) throw new UnrecoverableError(classified.message);
        throw classified;
      }
      if (typeof result?.providerMessageId !== 'string' || result.providerMessageId === '') {
        // The provider accepted the message; retrying would risk a twin, so the job completes.
        return { providerMessageId: '', idempotencyKey };
      }
      return { providerMessageId: result.providerMessageId, idempotencyKey };
    },
    { ...workerOptions, settings: { backoffStrategy } },
  );
}

