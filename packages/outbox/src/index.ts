// Public surface of @platform/outbox.
export {
  enqueueInTransaction,
  type OutboxClient,
  type OutboxEnqueueOptions,
  type OutboxEnqueueResult,
} from './enqueue';
export { notifyOnceInTransaction, type OutboxNotifyOptions, type OutboxNotifyResult } from './notify';
export {
  startOutboxRelay,
  defaultOutboxRelayOptions,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './relay';
export type { RelayNotificationOptions } from './relay-batch';
export { getOutboxLag, type OutboxLag } from './lag';
export { OUTBOX_METRIC_NAMES, DEFAULT_MOVE_LATENCY_BUCKETS } from './metrics';
export {
  withSendLog,
  listSendLog,
  getSendLogEntry,
  expireSendLog,
  type SendLogOptions,
  type SendLogEntry,
  type SendLogStatus,
  type ListSendLogOptions,
} from './send-log';
export { migrateOutbox, OUTBOX_MIGRATIONS, type OutboxMigration, type MigrateOutboxResult } from './migrate';
export { DEFAULT_OUTBOX_SCHEMA, OUTBOX_SCHEMA_PATTERN, type OutboxSchemaOptions } from './schema';
export { OutboxDatabaseError } from './errors';
