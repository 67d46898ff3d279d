// Public surface of @platform/notifications.
export { notifyOnce, type NotifyOnceOptions, type NotifyOnceResult } from './notify';
export {
  createNotificationWorker,
  type NotificationWorkerOptions,
  type NotificationJobResult,
} from './worker';
export type { RetryPolicy, RetryPolicyOptions } from './retry';
export {
  getNotificationStatus,
  type NotificationStatus,
  type NotificationState,
  type NotificationStatusOptions,
} from './status';
export {
  notifyDigest,
  type DigestInput,
  type DigestContext,
  type DigestRender,
  type NotifyDigestOptions,
  type NotifyDigestResult,
} from './digest';
export {
  getProviderHealth,
  listProviderHealth,
  type ProviderHealth,
  type ProviderHealthOptions,
  type CircuitBreakerOptions,
} from './circuit';
export { closeNotificationQueues, type NotificationQueueDefinition, type NotificationQueueOptions } from './queues';
export { createWebhookSender, type WebhookSenderOptions, type WebhookRequestBody } from './webhook-sender';
export {
  createMemorySender,
  createConsoleSender,
  type MemorySender,
  type SentMessage,
  type ConsoleSenderOptions,
} from './memory-sender';
export { createSmtpSender, type SmtpSender, type SmtpSenderOptions } from './providers/smtp';
export { createResendSender, type ResendSenderOptions } from './providers/resend';
export { createTwilioSender, type TwilioSenderOptions } from './providers/twilio';
export { createWhatsAppSender, type WhatsAppSenderOptions } from './providers/whatsapp';
export { createTelegramSender, type TelegramSenderOptions } from './providers/telegram';
export {
  createWebSender,
  createWebInbox,
  type WebSenderOptions,
  type WebInboxOptions,
  type WebInbox,
  type WebNotification,
} from './providers/web';
export type { ProviderHttpOptions } from './providers/http';
export type { NotificationSender, SendContext, SendResult } from './sender';
export { parseRetryAfter, isRetryableStatus } from './classify';
export {
  NotificationValidationError,
  NotificationSendError,
  ProviderThrottledError,
  type NotificationIssue,
  type NotificationSendErrorOptions,
} from './errors';
export {
  channelPayloadSchemas,
  validateNotification,
  type ChannelPayload,
  type ChannelPayloadInput,
  type NotificationInput,
  type NotificationInputFor,
  type ValidNotification,
} from './schemas';
export { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
