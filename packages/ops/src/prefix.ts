import { bullPrefixFor, resolveKeyPrefix, type RedisClient } from '@platform/redis';
import type { Cluster, Redis } from 'ioredis';

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
 * server, `<base>:{<queue>}` on a cluster (the rule of `bullPrefixFor` with a queue name, which
 * `defineQueue` follows).
 */
export function queuePrefix(redis: RedisClient, base: string, queue: string): string {
  return redis.isCluster ? `${base}:{${queue}}` : base;
}

/** The queue a `…:meta` key found under `base` belongs to: `<base>:<q>:meta` or `<base>:{<q>}:<q>:meta`. */
export function queueOfMetaKey(base: string, key: string): string | undefined {
  if (!key.startsWith(`${base}:`) || !key.endsWith(':meta')) return undefined;
  const middle = key.slice(base.length + 1, -':meta'.length);
  const tagged = /^\{([^{}]+)\}:(.+)$/.exec(middle);
  if (!tagged) return middle;
  return tagged[1] === tagged[2] ? tagged[2] : undefined;
}

/**
 * Every key matching `pattern` (SCAN with MATCH): on a cluster, SCAN runs on every master, since
 * each holds only its own slots. A key may be reported twice (SCAN's own guarantee); callers dedupe.
 */
export async function scanKeys(redis: RedisClient, pattern: string, onKeys: (keys: string[]) => void | Promise<void>): Promise<void> {
  // A cluster client knows its nodes only once its slots are loaded: a PING waits for that.
  if (redis.isCluster) await redis.ping();
  const nodes: Redis[] = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onKeys(keys);
    } while (cursor !== '0');
  }
}
