// Public surface of @platform/notifications.
export { notifyOnce, type NotifyOnceOptions, type NotifyOnceResult } from './notify';
export {
  createNotificationWorker,
  notificationBackoffStrategy,
  type NotificationWorkerOptions,
  type NotificationBackoffOptions,
  type NotificationJobResult,
} from './worker';
export {
  getNotificationStatus,
  type NotificationStatus,
  type NotificationState,
  type NotificationStatusOptions,
} from './status';
export { createWebhookSender, type WebhookSenderOptions, type WebhookRequestBody } from './webhook-sender';
export {
  createMemorySender,
  createConsoleSender,
  type MemorySender,
  type SentMessage,
  type ConsoleSenderOptions,
} from './memory-sender';
export type { NotificationSender, SendContext, SendResult } from './sender';
export { classifySendError, parseRetryAfter, isRetryableStatus, isNetworkError } from './classify';
export {
  NotificationValidationError,
  NotificationSendError,
  type NotificationIssue,
  type NotificationSendErrorOptions,
} from './errors';
export {
  emailPayloadSchema,
  smsPayloadSchema,
  whatsappPayloadSchema,
  whatsappTemplateSchema,
  telegramPayloadSchema,
  webPayloadSchema,
  channelPayloadSchemas,
  notificationTypeSchema,
  dedupeKeySchema,
  validateNotification,
  E164_PATTERN,
  type ChannelPayload,
  type ChannelPayloadInput,
  type NotificationInput,
  type NotificationInputFor,
  type ValidNotification,
} from './schemas';
export { notifyKey, notificationJobId, notificationDeduplicationId, NOTIFICATION_JOB_ID_PREFIX } from './keys';
export { resolveNotificationQueue, closeNotificationQueues, type NotificationQueueDefinition, type NotificationQueueOptions } from './queues';
export {
  DEFAULT_DEDUPE_TTL_SECONDS,
  DEFAULT_PENDING_TTL_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  NOTIFICATION_BACKOFF_TYPE,
  defaultNotificationBackoff,
} from './options';
export { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
