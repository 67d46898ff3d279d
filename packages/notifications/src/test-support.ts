// Shared by this package's tests (not exported from index.ts).
import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix } from '@platform/testing';
import type { Worker } from 'bullmq';
import { closeNotificationQueues } from './queues';

/** What a test file of this package works with; whatever it pushes here is cleaned up after the file. */
export interface NotificationTestContext {
  /** A producer connection to the test Redis. */
  readonly redis: ReturnType<typeof createRedisConnection>;
  /** A worker connection (BullMQ's blocking commands) to the test Redis. */
  readonly workerConnection: ReturnType<typeof createRedisConnection>;
  /** Key prefixes whose keys are deleted after the file. */
  readonly prefixes: string[];
  /** Tenants whose `notify:<tenant>` keys are deleted after the file. */
  readonly tenants: string[];
  /** Workers closed after the file. */
  readonly workers: Worker[];
}

/**
 * Registers the `afterAll` that closes workers and notification queues, deletes the keys of every
 * tracked prefix and tenant, and closes both connections and the shared ones. `afterFile` runs after the queues close.
 */
export function useNotificationTestContext(afterFile?: () => Promise<void>): NotificationTestContext {
  const context: NotificationTestContext = {
    redis: createRedisConnection(loadRedisConfig(), { role: 'producer' }),
    workerConnection: createRedisConnection(loadRedisConfig(), { role: 'worker' }),
    prefixes: [],
    tenants: [],
    workers: [],
  };
  afterAll(async () => {
    await Promise.all(context.workers.map((w) => w.close()));
    await closeNotificationQueues();
    await afterFile?.();
    for (const prefix of context.prefixes) await deleteKeysByPrefix(context.redis, `${prefix}:`);
    for (const tenant of context.tenants) await deleteKeysByPrefix(context.redis, `notify:${tenant}`);
    await context.redis.quit();
    await context.workerConnection.quit();
    // A worker on a fair channel queue (the catalog's default) hands jobs out and heartbeats on the
    // shared producer connection, which would otherwise keep the test process alive.
    await closeSharedConnections();
  });
  return context;
}
