import { bullPrefixFor, resolveKeyPrefix } from '@platform/redis';

/**
 * The BullMQ prefix the platform's queues use when none is given: `bull`, or
 * `<REDIS_KEY_PREFIX>:bull` (the same default as `defineQueue`).
 */
export function defaultPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return bullPrefixFor(resolveKeyPrefix(undefined, env));
}
