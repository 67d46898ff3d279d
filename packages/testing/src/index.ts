export { findFreePort, findFreeClusterPort, CLUSTER_BUS_PORT_OFFSET, pingRedis, startRedisServer, redisServerAvailable, type RedisServer, type StartRedisServerOptions } from './redis-server';
export { startRedisCluster, servingMasterPorts, type RedisCluster, type RedisClusterNode, type StartRedisClusterOptions } from './redis-cluster';
export { resolveDevRedis, type DevRedis, type ResolveDevRedisOptions } from './dev-redis';
export { uniquePrefix, deleteKeysByPrefix, waitFor, readmeApiNames, rejectionOf, isProcessAlive } from './helpers';
export {
  startPostgresServer,
  findPostgresBinDir,
  postgresAvailable,
  type PostgresServer,
  type StartPostgresServerOptions,
} from './postgres-server';
export { luaScriptProblems, type CheckedLuaScript } from './lua-scripts';
export { TEST_CLUSTER_NODES_ENV, isClusterTestRun, testRedisTarget, connectTestRedis, keysMatching, standaloneOnly } from './test-redis';
