import { connectTestRedis, deleteKeysByPrefix, keysMatching, uniquePrefix } from '@platform/testing';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

/** The schema most tests use. */
export const cartSchema = z.object({
  cart: z.array(z.string()).default([]),
  counter: z.number().int().default(0),
  note: z.string().optional(),
});

/** A client on the test Redis, and a unique key prefix whose keys are deleted after the test file. */
export function testRedis(label: string): { redis: Redis | Cluster; prefix: string; cleanup: () => Promise<void> } {
  const redis = connectTestRedis();
  const prefix = uniquePrefix(label);
  return {
    redis,
    prefix,
    async cleanup() {
      await deleteKeysByPrefix(redis, `${prefix}:`);
      await redis.quit();
    },
  };
}

/** Every key under `prefix:` (SCAN; on every master of a cluster). */
export function keysUnder(redis: Redis | Cluster, prefix: string): Promise<string[]> {
  return keysMatching(redis, `${prefix}:*`);
}
