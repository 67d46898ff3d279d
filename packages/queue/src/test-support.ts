// Test support (not exported from index.ts): the connections and key clean-up most queue tests share.
import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix } from '@platform/testing';

/** What {@link useQueueTestContext} gives a test file. */
export interface QueueTestContext {
  /** A producer connection to the test Redis. */
  redis: ReturnType<typeof createRedisConnection>;
  /** A worker connection (BullMQ's blocking settings). */
  workerConnection: ReturnType<typeof createRedisConnection>;
  /** BullMQ prefixes the tests used: every key under `<prefix>:` is deleted after the file. */
  prefixes: string[];
  /** Other key prefixes to delete after the file, as given (e.g. a lock key and its companions). */
  keyPrefixes: string[];
}

/**
 * Opens a producer and a worker connection for a test file and registers the `afterAll` that
 * deletes every key under the prefixes the tests pushed and closes the connections (and the
 * shared ones the code under test may have opened).
 */
export function useQueueTestContext(): QueueTestContext {
  const context: QueueTestContext = {
    redis: createRedisConnection(loadRedisConfig(), { role: 'producer' }),
    workerConnection: createRedisConnection(loadRedisConfig(), { role: 'worker' }),
    prefixes: [],
    keyPrefixes: [],
  };
  afterAll(async () => {
    for (const prefix of context.prefixes) await deleteKeysByPrefix(context.redis, `${prefix}:`);
    for (const prefix of context.keyPrefixes) await deleteKeysByPrefix(context.redis, prefix);
    await context.redis.quit();
    await context.workerConnection.quit();
    await closeSharedConnections();
  });
  return context;
}
