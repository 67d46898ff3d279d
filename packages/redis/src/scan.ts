import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connection';

/**
 * Every key matching `pattern` (SCAN with MATCH, `COUNT 1000`), in batches. On a cluster SCAN runs
 * on every master, since each holds only its own slots (a `Cluster` client's own `scan` asks one
 * node). A key may be reported twice (SCAN's own guarantee); callers dedupe. `onKeys` may return
 * `false` to stop early.
 */
export async function scanKeys(
  redis: RedisClient,
  pattern: string,
  onKeys: (keys: string[], node: Redis) => void | boolean | Promise<void | boolean>,
): Promise<void> {
  // A cluster client knows its nodes only once its slots are loaded: a PING waits for that.
  if (redis.isCluster) await redis.ping();
  const nodes: Redis[] = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0 && (await onKeys(keys, node)) === false) return;
    } while (cursor !== '0');
  }
}
