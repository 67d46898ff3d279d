import { resolveDevRedis } from '../packages/testing/src/dev-redis';

/**
 * Gives every test a Redis: REDIS_URL when set; otherwise a private redis-server on a free port
 * (stopped by PID in global-teardown). Tests never flush it: each uses its own prefix.
 */
export default async function globalSetup(): Promise<void> {
  const redis = await resolveDevRedis({ preferPrivate: true });
  process.env.REDIS_URL = redis.url;
  if (redis.server) {
    process.env.PLATFORM_TEST_REDIS_PID = String(redis.server.pid);
    (globalThis as { __platformRedis?: unknown }).__platformRedis = redis.server;
  }
  console.log(`\n[tests] Redis: ${redis.source === 'private' ? `private redis-server on ${redis.url}` : redis.url}`);
}
