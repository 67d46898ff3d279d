import { bullPrefixFor, resolveKeyPrefix, type RedisClient } from '@platform/redis';
import { clusterQueuePrefix, scanKeys } from '@platform/redis/internal';

/**
 * The BullMQ prefix the platform's queues use when none is given: `bull`, or
 * `<REDIS_KEY_PREFIX>:bull` (the same default as `defineQueue`). On a cluster each queue adds its
 * hash tag to it (see {@link queuePrefix}).
 */
export function defaultPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return bullPrefixFor(resolveKeyPrefix(undefined, env));
}

/**
 * The BullMQ prefix of one queue under the base prefix `base`: `base` itself on a standalone
 * server, `<base>:{<queue>}` on a cluster (`clusterQueuePrefix`, the rule `defineQueue` follows).
 */
export function queuePrefix(redis: Pick<RedisClient, 'isCluster'>, base: string, queue: string): string {
  return redis.isCluster ? clusterQueuePrefix(base, queue) : base;
}

/**
 * The queue a key of one queue found under `base` belongs to, given the key's last part (`:meta`,
 * `:repeat`): `<base>:<q><suffix>` or, on a cluster, `<base>:{<q>}:<q><suffix>`.
 */
export function queueOfMetaKey(base: string, key: string, suffix = ':meta'): string | undefined {
  if (!key.startsWith(`${base}:`) || !key.endsWith(suffix)) return undefined;
  const middle = key.slice(base.length + 1, -suffix.length);
  const tagged = /^\{([^{}]+)\}:(.+)$/.exec(middle);
  if (!tagged) return middle;
  return tagged[1] === tagged[2] ? tagged[2] : undefined;
}

/** See `scanKeys` of `@platform/redis`: SCAN on every master of a cluster. */
export { scanKeys };
