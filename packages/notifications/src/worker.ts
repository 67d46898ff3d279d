import {
  createWorker,
  type CreateWorkerOptions,
  type JobContext,
  type NotificationChannel,
  type notificationJobSchema,
  type TenantPayload,
} from '@platform/queue';
import { InvalidArgumentError, checkInteger, getSharedConnection, isDeferral, resolveKeyPrefix } from '@platform/redis';
import { SpanKind, type Link } from '@opentelemetry/api';
import { errorFields, fromJobMetadata, inSpan, logLine, resolveLogger, spanAttributes as A, spanEvent } from '@platform/telemetry';
import { DelayedError, UnrecoverableError, type BackoffStrategy, type Job, type MinimalJob, type Worker } from 'bullmq';
import { circuitKey, createCircuitBreaker, resolveCircuitBreaker, type CircuitBreakerOptions } from './circuit';
import { classifySendError } from './classify';
import { DIGEST_JOB_NAME, forgetRender, registeredRender, type DigestJobPayload, type DigestRender } from './digest';
import { NotificationSendError } from './errors';
import { idempotencyKeyFor } from './keys';
import { DEFAULT_MAX_RETRY_AFTER_MS } from './options';
import { resolveNotificationQueue, type NotificationQueueDefinition } from './queues';
import { backoffOf, checkProviderName, defaultRetryPolicy, resolveRetryPolicy, retryDelayMs, type RetryPolicy } from './retry';
import { parsePayload, type ChannelPayload } from './schemas';
import type { NotificationSender, SendResult } from './sender';
import { finishDigestBatchScript, takeDigestBatchScript } from './scripts';
import { statusKey, updateStatus, type StoredStatus } from './status-store';

/** Options of {@link createNotificationWorker}: the platform worker's options plus these. */
export interface NotificationWorkerOptions<C extends NotificationChannel = NotificationChannel> extends Omit<CreateWorkerOptions, 'settings'> {
  /**
   * Key prefix (must match the producers'): the queue lives under the BullMQ prefix `<keyPrefix>:bull`.
   * @defaultValue `REDIS_KEY_PREFIX` from the environment, else `''` (BullMQ prefix `bull`)
   */
  keyPrefix?: string;
  /** A queue definition to consume instead of `notificationQueue(channel, …)`. @defaultValue none */
  queue?: NotificationQueueDefinition;
  /**
   * Delays between attempts of jobs that carry no policy of their own (jobs not queued by
   * `notifyOnce`); a job's own policy always wins. @defaultValue the default retry policy
   */
  retry?: Omit<RetryPolicy, 'expireAfterMs' | 'attempts'>;
  /**
   * Longest `Retry-After` and longest deferral (a 429 with a retry hint, a rate limit) honoured;
   * a longer one is cut to this. @defaultValue `3600000` (1 h)
   */
  maxRetryAfterMs?: number;
  /**
   * The circuit breaker of this channel and the sender's `provider`, shared by every worker through
   * Redis: after `failureThreshold` retryable failures in a row the workers stop calling the
   * provider and hold their jobs (no attempt spent) for `openMs`, then let one probe job through,
   * and resume when it succeeds. `false` turns it off.
   * @defaultValue `{ failureThreshold: 5, openMs: 15000, probeTimeoutMs: 30000 }`
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Renderers of digests by notification type, for digests queued by `notifyDigest` in another
   * process (one queued in this process uses the `render` it was given). @defaultValue none
   */
  digests?: Record<string, DigestRender<C, never>>;
}

/** The return value of a finished notification job (`job.returnvalue`). */
export interface NotificationJobResult extends SendResult {
  /** The idempotency key the sender got. */
  idempotencyKey: string;
  /** `true`: the notification outlived its `expireAfterMs` and was dropped without being sent. */
  expired?: true;
}

/** Ms from `now` until `expireAt`, or `Infinity` when the job does not expire. */
function untilExpiry(job: MinimalJob, now: number): number {
  const { expireAt } = backoffOf(job.opts);
  return expireAt === undefined ? Number.POSITIVE_INFINITY : expireAt - now;
}

/**
 * The backoff strategy of notification jobs: the provider's `Retry-After` when the error carries one
 * (`retryAfterMs`, at most `maxRetryAfterMs`), else the job's policy (exponential with jitter,
 * capped per step); never later than the job's expiry, so an expired job is recorded on time.
 */
export function notificationBackoffStrategy(fallback: Omit<RetryPolicy, 'expireAfterMs' | 'attempts'> = {}, maxRetryAfterMs = DEFAULT_MAX_RETRY_AFTER_MS): BackoffStrategy {
  const base = resolveRetryPolicy('email', '', { ...fallback });
  return (attemptsMade: number, _type?: string, error?: Error, job?: MinimalJob): number => {
    const retryAfterMs = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    let delay: number;
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
      delay = Math.min(Math.round(retryAfterMs), maxRetryAfterMs);
    } else {
      const own = job ? backoffOf(job.opts) : {};
      delay = retryDelayMs(
        { delayMs: own.delay ?? base.delayMs, maxDelayMs: own.maxDelay ?? base.maxDelayMs, jitter: own.jitter ?? base.jitter },
        attemptsMade,
      );
    }
    return job ? Math.max(0, Math.min(delay, untilExpiry(job, Date.now()))) : delay;
  };
}

/** Links to the traces of a digest's items (the spans that added them), at most 128 (the SDK's default limit). */
function itemLinks(entries: { tc?: string }[]): Link[] | undefined {
  const links: Link[] = [];
  for (const entry of entries) {
    const context = fromJobMetadata(entry.tc);
    if (context) links.push({ context });
    if (links.length === 128) break;
  }
  return links.length > 0 ? links : undefined;
}

type NotificationJob = Job<TenantPayload<typeof notificationJobSchema>, NotificationJobResult>;

/** Delays the job by `ms` without spending an attempt (BullMQ's DelayedError leaves attemptsMade alone). */
async function defer(job: NotificationJob, token: string, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token);
  throw new DelayedError();
}

/**
 * Starts a worker that delivers the notifications of one channel through `sender`.
 *
 * Each job's payload is validated against the channel schema (an invalid one fails at once). The
 * sender gets the message and an idempotency key that is the same for every attempt. A deferral
 * (`isDeferral`: a 429 with a retry hint, a `RateLimitError`) delays the job by its `retryAfterMs`
 * without spending an attempt. A retryable failure (408, 5xx, network) is retried by the job's
 * policy (exponential with jitter, capped per step; by default 25 attempts over 6.5–8.2 h), or
 * after the provider's `Retry-After`; a permanent one (other 4xx, invalid address) fails the job
 * at once with BullMQ's `UnrecoverableError`. A job past its `expireAfterMs` completes as expired
 * without being sent. After the last attempt the job stays in the failed set (7 days by the queue
 * defaults) with the provider's reason as `failedReason`, ready to be retried.
 *
 * @example
 * const worker = createNotificationWorker('email', createWebhookSender({ url: 'https://mailer.internal/send' }));
 */
export function createNotificationWorker<C extends NotificationChannel>(
  channel: C,
  sender: NotificationSender<C>,
  options: NotificationWorkerOptions<C> = {},
): Worker<TenantPayload<typeof notificationJobSchema>, NotificationJobResult> {
  if (typeof sender?.send !== 'function') throw new InvalidArgumentError('sender', 'must have a send(message, context) function');
  const { keyPrefix: keyPrefixOption, queue, retry, maxRetryAfterMs: maxRetryAfter, circuitBreaker, digests, ...workerOptions } = options;
  const keyPrefix = resolveKeyPrefix(keyPrefixOption);
  // The worker's connection serves its queue definition too: a fair channel queue (the catalog's
  // default) hands jobs out and heartbeats through it, so on the worker's Redis, whatever the
  // environment's shared producer connection points at.
  const definition = resolveNotificationQueue(channel, queue ? { queue } : { keyPrefix, ...(workerOptions.connection ? { connection: workerOptions.connection } : {}) });
  const maxRetryAfterMs = checkInteger('maxRetryAfterMs', maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER_MS, 0);
  const backoffStrategy = notificationBackoffStrategy(retry ?? defaultRetryPolicy, maxRetryAfterMs);
  const provider = checkProviderName('sender.provider', sender.provider ?? 'default');
  const redis = workerOptions.connection ?? getSharedConnection('worker');
  const breaker = circuitBreaker === false ? undefined : createCircuitBreaker(redis, circuitKey(keyPrefix, channel, provider), resolveCircuitBreaker(circuitBreaker));
  const logger = resolveLogger(workerOptions.logger);
  // A failed status or batch write: reported with the job's fields (an `onError` still gets the error alone).
  const reportError = (job: NotificationJob, what: string, error: unknown): void => {
    if (workerOptions.onError) workerOptions.onError(error as Error);
    else logLine(logger, 'warn', { queue: definition.name, tenantId: job.data.tenantId, jobId: String(job.id), ...errorFields(error) }, what);
  };

  // The status is what getNotificationStatus reports; a failure to write it must not fail the job.
  // notifyOnce writes none: the first write creates it, kept for the dedupe window the job carries
  // (every handling writes one, so a job a worker took always has one).
  const record = (job: NotificationJob, status: StoredStatus): Promise<void> =>
    updateStatus(redis, statusKey(keyPrefix, String(job.id), channel), status, backoffOf(job.opts).statusTtl).catch((error: unknown) =>
      reportError(job, 'could not write the notification status', error),
    );

  // The provider answered; a failed breaker write is reported, never the job's failure.
  const closeBreaker = async (job: NotificationJob): Promise<void> => {
    await breaker?.success().catch((error: unknown) => reportError(job, 'could not record the provider answer in the circuit breaker', error));
  };

  const hold = async (job: NotificationJob, token: string, waitMs: number, reason: string, lastError?: string): Promise<never> => {
    // Never later than the job's expiry, so an expired job is recorded on time.
    const wait = Math.max(1, Math.min(Math.round(waitMs), maxRetryAfterMs, Math.max(0, untilExpiry(job, Date.now()))));
    spanEvent('job.deferred', { 'deferral.reason': reason, 'deferral.retry_after_ms': wait });
    await record(job, { state: 'deferred', attempts: job.attemptsMade, reason, retryAt: Date.now() + wait, ...(lastError ? { lastError } : {}) });
    return defer(job, token, wait);
  };

  // An expired digest batch is taken (whatever its window: maxItems 1) and forgotten, unsent: the
  // digest's next item then starts a new batch and job instead of joining this finished job's batch.
  const dropDigestBatch = async ({ key, batch, windowMs, maxWaitMs }: DigestJobPayload['digest']): Promise<void> => {
    await takeDigestBatchScript.run(redis, [key], [batch, windowMs, maxWaitMs, 1]);
    await finishDigestBatchScript.run(redis, [key], [batch]);
    forgetRender(key, batch);
  };

  const handle = async (job: NotificationJob, { tenantId, signal, token }: JobContext): Promise<NotificationJobResult> => {
    const { type, dedupeKey } = job.data;
    const jobId = String(job.id);
    const idempotencyKey = idempotencyKeyFor(definition.name, jobId, tenantId, type, dedupeKey);
    if (untilExpiry(job, Date.now()) <= 0) {
      if (job.name === DIGEST_JOB_NAME) await dropDigestBatch((job.data.payload as unknown as DigestJobPayload).digest);
      await record(job, { state: 'expired', attempts: job.attemptsMade });
      return { providerMessageId: '', idempotencyKey, expired: true };
    }
    let payload: unknown = job.data.payload;
    let digest: DigestJobPayload['digest'] | undefined;
    let links: Link[] | undefined;
    if (job.name === DIGEST_JOB_NAME) {
      digest = (job.data.payload as unknown as DigestJobPayload).digest;
      const taken = await takeDigestBatchScript.run(redis, [digest.key], [digest.batch, digest.windowMs, digest.maxWaitMs, digest.maxItems]);
      // Not due yet (an item arrived within the window): come back when it is, no attempt spent.
      if (Number(taken[0]) === 0 && token) return hold(job, token, Number(taken[1]), 'digest-window');
      const entries = taken
        .slice(1)
        .map((entry) => JSON.parse(String(entry)) as { at: number; item: never; tc?: string })
        .sort((a, b) => a.at - b.at);
      const items = entries.map((entry) => entry.item);
      links = itemLinks(entries);
      if (items.length === 0) {
        await record(job, { state: 'delivered', attempts: job.attemptsMade + 1, providerMessageId: '' });
        return { providerMessageId: '', idempotencyKey };
      }
      // The digest's own render when it was queued in this process, else the one for its type.
      const render = registeredRender(digest.key) ?? digests?.[type];
      if (!render) throw new NotificationSendError(`no digest renderer for type "${type}" in this worker (pass it in the digests option)`, { retryable: true });
      try {
        payload = render(items, { tenantId, type, recipientKey: digest.recipientKey, channel });
      } catch (error) {
        const reason = `digest render failed: ${(error as Error).message}`;
        await record(job, { state: 'failed', attempts: job.attemptsMade + 1, lastError: reason });
        throw new UnrecoverableError(reason);
      }
    }
    const parsed = parsePayload(channel, payload);
    if (!parsed.success) {
      const list = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      const reason = `Invalid ${channel} payload: ${list}`;
      await record(job, { state: 'failed', attempts: job.attemptsMade + 1, lastError: reason });
      throw new UnrecoverableError(reason);
    }
    let probe = false;
    if (breaker && token) {
      const gate = await breaker.allow();
      if (!gate.allowed) return hold(job, token, gate.waitMs * (1 + Math.random() * 0.2), 'circuit-open');
      probe = gate.probe;
    }
    await record(job, { state: 'sending', attempts: job.attemptsMade });
    let result: SendResult;
    try {
      const attributes = { 'notification.provider': provider, 'notification.channel': channel, [A.tenant]: tenantId, [A.jobId]: jobId, [A.attempt]: job.attemptsMade + 1 };
      result = await inSpan(`send ${channel}`, { kind: SpanKind.CLIENT, attributes, ...(links ? { links } : {}), isFailure: (error) => !isDeferral(error) }, () =>
        sender.send(parsed.data as ChannelPayload<C>, {
          idempotencyKey,
          tenantId,
          channel,
          type,
          dedupeKey,
          jobId,
          attempt: job.attemptsMade + 1,
          signal,
        }),
      );
    } catch (error) {
      // Come back later without spending an attempt, whatever the underlying worker does with deferrals.
      if (isDeferral(error) && token) return hold(job, token, error.retryAfterMs, error.deferralReason ?? 'deferred');
      const classified = classifySendError(error);
      if (!classified.retryable) {
        // The provider answered (it refused this message): it is up.
        await closeBreaker(job);
        await record(job, { state: 'failed', attempts: job.attemptsMade + 1, lastError: classified.message });
        throw new UnrecoverableError(classified.message);
      }
      if (breaker && token) {
        // A failed breaker write is reported; the job goes on as the provider's answer says.
        const verdict = await breaker.failure(classified.message, probe).catch((breakerError: unknown) => {
          reportError(job, 'could not record the provider failure in the circuit breaker', breakerError);
          return { open: false, waitMs: 0 };
        });
        // The provider is down for every job: hold this one too instead of spending its attempts.
        if (verdict.open) return hold(job, token, verdict.waitMs * (1 + Math.random() * 0.2), 'circuit-open', classified.message);
      }
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await record(job, { state: last ? 'failed' : 'retrying', attempts: job.attemptsMade + 1, lastError: classified.message });
      throw classified;
    }
    // The provider accepted the message: from here on nothing may fail the job, or a retry sends it again.
    await closeBreaker(job);
    // The batch is delivered: forget its items (should this fail, a replay finds them sent already by id).
    if (digest) {
      await finishDigestBatchScript.run(redis, [digest.key], [digest.batch]).catch((error: unknown) => reportError(job, 'could not clear the delivered digest batch', error));
      forgetRender(digest.key, digest.batch);
    }
    // A provider that accepted the message without an id still accepted it: retrying would risk a twin.
    const providerMessageId = typeof result?.providerMessageId === 'string' ? result.providerMessageId : '';
    await record(job, { state: 'delivered', attempts: job.attemptsMade + 1, providerMessageId });
    return { providerMessageId, idempotencyKey };
  };

  return createWorker(definition, handle, { ...workerOptions, settings: { backoffStrategy } });
}
