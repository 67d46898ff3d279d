import type { Cluster, Redis } from 'ioredis';
import { clusterMasterOf, keySlot } from '@platform/redis/internal';

export { keySlot };

/**
 * The connection of a cluster client to the master that holds `key`'s slot, as the client knows it
 * now (`undefined` before its slots are loaded). Keyless commands about a key's writes (`WAIT`) go there.
 */
export function masterFor(cluster: Cluster, key: string): Redis | undefined {
  const nodeKey = clusterMasterOf(cluster, key);
  if (nodeKey === undefined) return undefined;
  return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === nodeKey);
}
