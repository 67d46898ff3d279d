export { queueName, NOTIFICATION_CHANNELS, type NotificationChannel } from './names';
export {
  defineQueue,
  type DefineQueueOptions,
  type EnqueueOptions,
  type QueueDefinition,
  type WaitForReplicasOptions,
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
  QueueNotReplicatedError,
  type PayloadIssue,
} from './errors';
export {
  defaultJobOptions,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_ENQUEUE_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_MAX_STALLED_COUNT,
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
export {
  getQueueStats,
  getOneQueueStats,
  listPlatformQueues,
  isPlatformQueueName,
  defaultQueueDepthThresholds,
  DEFAULT_TENANT_SAMPLE_SIZE,
  DEFAULT_TOP_TENANTS,
  type QueueStatsOptions,
  type QueueStats,
  type QueueCounts,
  type TenantDepth,
  type QueueDepthStatus,
  type QueueDepthThresholds,
} from './stats';
export {
  createQueueMetrics,
  defaultQueueMetricsOptions,
  QUEUE_METRIC_NAMES,
  type QueueMetrics,
  type QueueMetricsOptions,
  type LockWaitOutcome,
} from './metrics';
export {
  createMetricsHandler,
  type MetricsHandler,
  type MetricsHandlerOptions,
  type HealthStatus,
} from './metrics-handler';
export {
  listFailedJobs,
  retryFailedJobs,
  type FailedJobsFilter,
  type FailedJobInfo,
  type RetryFailedJobsOptions,
  type RetryFailedJobsResult,
} from './failed-jobs';
