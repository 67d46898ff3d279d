// Setup file of the `cluster` jest project (runs in each of its test files, whose process.env is
// jest's per-file copy): points the test file at the run's Redis Cluster. loadRedisConfig() then
// gives Cluster connections, and @platform/testing's helpers (isClusterTestRun, testRedisTarget,
// connectTestRedis) the cluster target. REDIS_URL is set to one cluster node, so a test still
// connecting a plain Redis to it fails loudly (MOVED) instead of quietly testing a standalone server.
const seed = process.env.PLATFORM_TEST_CLUSTER_SEED;
if (!seed) throw new Error('cluster-env: PLATFORM_TEST_CLUSTER_SEED is unset (jest/cluster-global-setup.ts starts the cluster)');
process.env.REDIS_CLUSTER_NODES = seed;
process.env.PLATFORM_TEST_CLUSTER_NODES = seed;
process.env.REDIS_URL = `redis://${seed.split(',')[0]!}`;
