import calculateSlot from 'cluster-key-slot';

/** The Redis Cluster hash slot (0-16383) of a key: of its hash tag, or of the whole key without one. */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

/** What {@link clusterMasterOf} reads of a client: ioredis `Cluster`'s flag and slot table. */
interface SlotTableClient {
  isCluster?: boolean;
  /** Per hash slot, the node keys (`host:port`) serving it, the master first (ioredis `Cluster#slots`). */
  slots?: ReadonlyArray<ReadonlyArray<string> | undefined>;
}

/**
 * The master (`host:port`) a Redis Cluster client routes `key` to now, read from the client's own
 * slot table (the same lookup ioredis makes for every command); `undefined` for a standalone client
 * or while the table is not loaded. The table can be out of date (a failover, a resharding): a
 * caller groups commands by it for efficiency only, and must be correct when a command it sent to
 * that master meets a key the master no longer serves (ioredis follows `MOVED` and `ASK` for the
 * key a command is routed by; a script sees other keys fail with "non local key").
 */
export function clusterMasterOf(client: object, key: string): string | undefined {
  const c = client as SlotTableClient;
  if (c.isCluster !== true) return undefined;
  return c.slots?.[keySlot(key)]?.[0];
}
