export {
  getQueueStats,
  listPlatformQueues,
  listQueues,
  type QueueStatsOptions,
  type QueueKind,
  type QueueStats,
  type QueueCounts,
  type TenantDepth,
  type QueueDepthStatus,
  type QueueDepthThresholds,
} from './stats';
export {
  getTenantStats,
  sortTenantStats,
  type TenantStatsOptions,
  type TenantStatsReport,
  type TenantQueueStats,
  type TenantSort,
} from './tenants';
export {
  listFailedJobs,
  retryFailedJobs,
  type FailedJobsFilter,
  type FailedJobInfo,
  type RetryFailedJobsOptions,
  type RetryFailedJobsResult,
} from './failed-jobs';
export {
  createQueueMetrics,
  defaultQueueMetricsOptions,
  QUEUE_METRIC_NAMES,
  type QueueMetrics,
  type QueueMetricsOptions,
  type ProviderBreaker,
} from './metrics';
export {
  createMetricsHandler,
  type MetricsHandler,
  type MetricsHandlerOptions,
  type HealthStatus,
} from './metrics-handler';
export { defaultPrefix, queueOfMetaKey, queuePrefix } from './prefix';
