// Shared by this package's tests (not exported from index.ts).
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';

/** Connections to the test Redis and fresh key prefixes, all cleaned up after the test file. */
export interface OpsTestContext {
  readonly redis: ReturnType<typeof createRedisConnection>;
  readonly workerConnection: ReturnType<typeof createRedisConnection>;
  /** A new key prefix (`label` + unique suffix) whose keys are deleted after the file. */
  newPrefix(): string;
}

/** Registers the `afterAll` that deletes every prefix handed out and closes both connections. */
export function useOpsTestContext(label: string): OpsTestContext {
  const prefixes: string[] = [];
  const context: OpsTestContext = {
    redis: createRedisConnection(loadRedisConfig(), { role: 'producer' }),
    workerConnection: createRedisConnection(loadRedisConfig(), { role: 'worker' }),
    newPrefix() {
      const prefix = uniquePrefix(label);
      prefixes.push(prefix);
      return prefix;
    },
  };
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeysByPrefix(context.redis, `${prefix}:`);
    await context.redis.quit();
    await context.workerConnection.quit();
  });
  return context;
}
