// Shared set-up of the cluster suites: one local cluster (3 masters, 3 replicas) per test file,
// connections made from REDIS_CLUSTER_NODES the way services make them, and teardown by PID.
import { closeConnection, createRedisConnection, loadRedisConfig, type RedisClient, type RedisConfig } from '@platform/redis';
import { startRedisCluster, type RedisCluster } from '@platform/testing';
import type { Cluster } from 'ioredis';

/** `FAULTS=full` (npm run test:faults) runs the full sizes; `npm test` a reduced run. */
export const FULL = process.env.FAULTS === 'full';

export function size(full: number, reduced: number): number {
  return FULL ? full : reduced;
}

export const CLUSTER_TEST_TIMEOUT_MS = FULL ? 600_000 : 180_000;

export interface ClusterContext {
  readonly cluster: RedisCluster;
  readonly config: RedisConfig;
  /** A connection of `role` on the cluster; closed in afterAll. */
  connect(role?: 'producer' | 'worker'): Cluster;
}

/** Starts a cluster in beforeAll and stops it (and every connection made by `connect`) in afterAll. */
export function useRedisCluster(): ClusterContext {
  let cluster: RedisCluster | undefined;
  let config: RedisConfig | undefined;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
    config = loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => closeConnection(client)));
    await cluster?.stop();
  }, 60_000);
  return {
    get cluster() {
      if (!cluster) throw new Error('cluster not started');
      return cluster;
    },
    get config() {
      if (!config) throw new Error('cluster not started');
      return config;
    },
    connect(role = 'producer') {
      // A generous command timeout: the suites run beside other work on a shared 2-core machine.
      const client = createRedisConnection(this.config, { role, commandTimeoutMs: 30_000 });
      clients.push(client);
      if (!client.isCluster) throw new Error('expected a Cluster connection');
      return client as Cluster;
    },
  };
}

/** How many keys matching `pattern` each master holds, by port (SCAN on each master). */
/** The keys matching `pattern` on each master (by port), read in one pass, so one snapshot can be classified. */
export async function keysByMaster(client: Cluster, pattern: string): Promise<Map<number, string[]>> {
  const byMaster = new Map<number, string[]>();
  await client.ping(); // the node list is known once the slots are loaded
  for (const node of client.nodes('master')) {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    byMaster.set(Number(node.options.port), [...new Set(found)]);
  }
  return byMaster;
}

export async function keysPerMaster(client: Cluster, pattern: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  await client.ping(); // the node list is known once the slots are loaded
  for (const node of client.nodes('master')) {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    counts.set(Number(node.options.port), count);
  }
  return counts;
}
