export { queueName, NOTIFICATION_CHANNELS, type NotificationChannel } from './names';
export {
  defineQueue,
  type DefineQueueOptions,
  type EnqueueOptions,
  type QueueDefinition,
  type WaitForReplicasOptions,
} from './define-queue';
export type { QueueJobCounts, ObliterateOptions } from './producer/producer';
export type { FairJobState } from './fairness/backlog';
export { fairPendingJobsKey } from './fairness/keys';
export { fairHeldScoreFloor } from './fairness/hold';
export type { FairnessOptions, TenantRate, PerTenant } from './fairness/options';
export type { JobTimeouts } from './timeouts';
export {
  pauseTenant,
  resumeTenant,
  setTenantLimits,
  resetTenantLimits,
  getTenantLimits,
  getTenantAudit,
  listTenantControls,
  type TenantControlTarget,
  type TenantControlOptions,
  type TimedControlOptions,
  type TenantLimitsOverride,
  type TenantControlChange,
  type TenantControlAction,
  type TenantPauseState,
  type TenantOverrideState,
  type TenantLimitValue,
  type TenantLimits,
  type TenantAuditEntry,
  type TenantControlEntry,
} from './fairness/controls';
export {
  defineConcurrencyPool,
  type ConcurrencyPool,
  type ConcurrencyPoolOptions,
  type ConcurrencyPoolUsage,
} from './pools/pool';
export { tenantSchedules, type TenantSchedule, type TenantRepeat } from './schedules';
export { jobStats, type JobStatsSlot, type TenantJobStats, type ReadJobStatsOptions } from './job-stats';
export { createWorker, type CreateWorkerOptions, type JobContext, type JobHandler } from './worker';
export {
  agentQueue,
  ragIngestionQueue,
  notificationQueue,
  closeCatalogQueues,
  AGENT_ROLES,
  type AgentRole,
  type CatalogQueueOptions,
  // Types only: `typeof agentJobSchema` names a catalog queue's schema; `definition.payloadSchema` is the value.
  type agentJobSchema,
  type ragIngestionJobSchema,
  type notificationJobSchema,
} from './catalog';
export {
  QueueNameError,
  PayloadValidationError,
  PayloadTooLargeError,
  QueueUnavailableError,
  QueueNotReplicatedError,
  JobTimeoutError,
  TenantBacklogFullError,
  FairnessRequiredError,
  FairJobPendingError,
  type TimeLimit,
  type PayloadIssue,
} from './errors';
export { defaultJobOptions, queueDefaults } from './options';
export type { TenantPayload, TenantPayloadInput, AnyObjectSchema } from './payload';
// The connection API, so a service can do everything from '@platform/queue'.
export {
  loadRedisConfig,
  createRedisConnection,
  getSharedConnection,
  closeSharedConnections,
  redisKey,
  PlatformError,
  InvalidArgumentError,
  type RedisConfig,
  type ConnectionRole,
  type ConnectionOptions,
  type RedisClient,
} from '@platform/redis';
