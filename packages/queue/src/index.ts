export { queueName, NOTIFICATION_CHANNELS, type NotificationChannel } from './names';
export {
  defineQueue,
  type DefineQueueOptions,
  type EnqueueOptions,
  type QueueDefinition,
} from './define-queue';
export {
  defaultFairnessOptions,
  type FairnessOptions,
  type TenantRate,
  type PerTenant,
} from './fairness/options';
export { createWorker, retryAfterOf, type CreateWorkerOptions, type JobContext, type JobHandler } from './worker';
export {
  agentQueue,
  ragIngestionQueue,
  notificationQueue,
  closeCatalogQueues,
  agentJobSchema,
  ragIngestionJobSchema,
  notificationJobSchema,
  type CatalogQueueOptions,
} from './catalog';
export {
  QueueNameError,
  PayloadValidationError,
  PayloadTooLargeError,
  QueueUnavailableError,
  type PayloadIssue,
} from './errors';
export {
  defaultJobOptions,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_ENQUEUE_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
} from './options';
export { tenantIdSchema, type TenantPayload, type TenantPayloadInput, type AnyObjectSchema } from './payload';
// The connection API, so a service can do everything from '@platform/queue'.
export {
  loadRedisConfig,
  createRedisConnection,
  getSharedConnection,
  closeSharedConnections,
  redisKey,
  PlatformError,
  ConfigError,
  InvalidArgumentError,
  RedisUnavailableError,
  type RedisConfig,
  type ConnectionRole,
  type ConnectionOptions,
} from '@platform/redis';
