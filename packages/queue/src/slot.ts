import type { RedisClient } from '@platform/redis';
import type { Cluster, Redis } from 'ioredis';
import { clusterMasterOf, createSlotConnection, keySlot } from '@platform/redis/internal';

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

/** A queue's BullMQ `meta` key: every key of the queue shares its slot. */
export const queueMetaKey = (prefix: string, queueName: string): string => `${prefix}:${queueName}:meta`;

/**
 * On a cluster, a connection of its own to the master of the queue's slot (BullMQ needs no routing:
 * every key of the queue is in that slot); the caller closes it. `undefined` on one server, where
 * BullMQ uses `client` itself.
 */
export function queueSlotConnection(client: RedisClient, prefix: string, queueName: string, role: 'producer' | 'worker'): Redis | undefined {
  if (!client.isCluster) return undefined;
  return createSlotConnection(client as Cluster, queueMetaKey(prefix, queueName), { role });
}
