import type { RedisCluster } from '../packages/testing/src/redis-cluster';

/** Stops every node of the cluster that cluster-global-setup started, by PID. */
export default async function clusterGlobalTeardown(): Promise<void> {
  const cluster = (globalThis as { __platformCluster?: RedisCluster }).__platformCluster;
  if (cluster) {
    await cluster.stop();
    return;
  }
  for (const pid of (process.env.PLATFORM_TEST_CLUSTER_PIDS ?? '').split(',').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
