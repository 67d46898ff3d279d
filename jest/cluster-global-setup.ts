import { startRedisCluster } from '../packages/testing/src/redis-cluster';

/**
 * Global setup of the `cluster` jest project: one local Redis Cluster (3 masters, 3 replicas, free
 * ports) for the whole run, stopped by PID in cluster-global-teardown. Its seed nodes go into
 * PLATFORM_TEST_CLUSTER_SEED only: this process's environment reaches every project's workers, so
 * the cluster project's setup file (cluster-env.ts) is what turns them into REDIS_CLUSTER_NODES and
 * PLATFORM_TEST_CLUSTER_NODES, for that project's test files alone.
 */
export default async function clusterGlobalSetup(): Promise<void> {
  const cluster = await startRedisCluster();
  process.env.PLATFORM_TEST_CLUSTER_SEED = cluster.nodesEnv;
  process.env.PLATFORM_TEST_CLUSTER_PIDS = cluster.nodes.map((node) => node.server.pid).join(',');
  (globalThis as { __platformCluster?: unknown }).__platformCluster = cluster;
  console.log(`\n[tests] Redis Cluster (3 masters + 3 replicas): ${cluster.nodesEnv}`);
}
