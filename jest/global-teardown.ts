import type { RedisServer } from '../packages/testing/src/redis-server';

/** Stops the private redis-server that global-setup started, by PID. */
export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __platformRedis?: RedisServer }).__platformRedis;
  if (server) await server.stop();
  else if (process.env.PLATFORM_TEST_REDIS_PID) {
    try {
      process.kill(Number(process.env.PLATFORM_TEST_REDIS_PID), 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
