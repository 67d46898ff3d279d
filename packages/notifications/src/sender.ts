import type { NotificationChannel } from '@platform/queue';
import type { ChannelPayload } from './schemas';

/** What a sender gets besides the message. */
export interface SendContext {
  /**
   * The same for every attempt of one notification: pass it to the provider's idempotency feature
   * (an `Idempotency-Key` header, a message reference) so a retry after a lost answer is not a twin.
   */
  idempotencyKey: string;
  /** The notification's tenant. */
  tenantId: string;
  /** The channel being delivered. */
  channel: NotificationChannel;
  /** Notification type, e.g. `activity-completed`. */
  type: string;
  /** The notification's dedupe key. */
  dedupeKey: string;
  /** BullMQ job id (for `getNotificationStatus` and logs). */
  jobId: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  attempt: number;
  /** Fires when the worker is force-closed; pass it to `fetch`. */
  signal: AbortSignal | undefined;
}

/** What a provider answered for a delivered message. */
export interface SendResult {
  /** The provider's id of the message (for support tickets and delivery receipts). */
  providerMessageId: string;
}

/**
 * An adapter to one provider. `send` resolves once the provider accepted the message, and throws
 * a `NotificationSendError` (`retryable`, `status`, `retryAfterMs`) when it did not; any other error
 * is classified by `classifySendError` (HTTP `status` if present, network errors retryable).
 */
export interface NotificationSender<C extends NotificationChannel = NotificationChannel> {
  /**
   * The provider's name (`smtp`, `resend`, `twilio`, …): the worker keeps one circuit breaker per
   * channel and provider. @defaultValue `'default'`
   */
  readonly provider?: string;
  send(message: ChannelPayload<C>, context: SendContext): Promise<SendResult>;
}
