import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { Redis } from 'ioredis';
import { z } from 'zod';

/** The schema most tests use. */
export const cartSchema = z.object({
  cart: z.array(z.string()).default([]),
  counter: z.number().int().default(0),
  note: z.string().optional(),
});

/** A client on the test Redis, and a unique key prefix whose keys are deleted after the test file. */
export function testRedis(label: string): { redis: Redis; prefix: string; cleanup: () => Promise<void> } {
  const redis = new Redis(process.env.REDIS_URL!);
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

/** Every key under `prefix:` (SCAN). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}
