import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

type RedisClient = Redis | Cluster;

/**
 * The environment variable that marks a test run against a Redis Cluster: the cluster jest
 * project's setup file sets it (with `REDIS_CLUSTER_NODES`) to the seed nodes of the cluster that
 * its global setup started, e.g. `127.0.0.1:7000,127.0.0.1:7001,…`.
 */
export const TEST_CLUSTER_NODES_ENV = 'PLATFORM_TEST_CLUSTER_NODES';

/** How {@link testRedisTarget} writes a cluster target: this scheme, then the seed nodes. */
const CLUSTER_SCHEME = 'redis-cluster://';

/**
 * Whether this test process runs against the per-run Redis Cluster (the `cluster` jest project)
 * rather than the per-run standalone test Redis.
 */
export function isClusterTestRun(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[TEST_CLUSTER_NODES_ENV]);
}

/**
 * What a test (or a process it starts) should connect to, as one string that fits in an argument:
 * the standalone test Redis's `REDIS_URL`, or on a cluster run `redis-cluster://h1:p1,h2:p2,…`.
 * {@link connectTestRedis} takes either form.
 * @throws Error when neither `PLATFORM_TEST_CLUSTER_NODES` nor `REDIS_URL` is set (the jest global setup sets one).
 */
export function testRedisTarget(env: NodeJS.ProcessEnv = process.env): string {
  const nodes = env[TEST_CLUSTER_NODES_ENV];
  if (nodes) return `${CLUSTER_SCHEME}${nodes}`;
  if (env.REDIS_URL) return env.REDIS_URL;
  throw new Error('testRedisTarget: neither PLATFORM_TEST_CLUSTER_NODES nor REDIS_URL is set (run the tests through jest, whose global setup starts a Redis)');
}

/**
 * A new ioredis client for a test: a `Cluster` for a `redis-cluster://` target, else a `Redis` on
 * the URL. Close it with `quit()` when done.
 * @param target - defaults to {@link testRedisTarget}.
 * @param options - options of every connection (for a cluster, its `redisOptions`).
 * @param clusterOptions - further `Cluster` options (ignored for a standalone target).
 */
export function connectTestRedis(target: string = testRedisTarget(), options: RedisOptions = {}, clusterOptions: ClusterOptions = {}): RedisClient {
  if (target.startsWith(CLUSTER_SCHEME)) {
    const nodes = target
      .slice(CLUSTER_SCHEME.length)
      .split(',')
      .map((address) => {
        const colon = address.lastIndexOf(':');
        return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
      });
    return new Cluster(nodes, { ...clusterOptions, lazyConnect: options.lazyConnect ?? clusterOptions.lazyConnect ?? false, redisOptions: { ...clusterOptions.redisOptions, ...options } });
  }
  return new Redis(target, options);
}

/**
 * Every key matching `pattern` (a SCAN `MATCH` pattern), sorted: SCAN on every master of a
 * `Cluster`, SCAN on a standalone server.
 */
export async function keysMatching(client: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  const nodes: Redis[] = client.isCluster ? (await client.ping(), (client as Cluster).nodes('master')) : [client as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found.sort();
}

/** A jest `it`/`test`/`describe` (anything with a name first and a `.skip` of the same shape). */
type Registrar = ((name: string, ...rest: never[]) => unknown) & { skip: (name: string, ...rest: never[]) => unknown };

/**
 * `standaloneOnly(it, reason)('name', fn)`: a test (or `describe` block) that holds only on a
 * standalone Redis. Outside a cluster run it is registered as usual; on a cluster run it is
 * registered skipped, with `[standalone only: <reason>]` in its name, so the report says why.
 * The reason must say what cannot hold on a cluster (e.g. the test counts commands with MONITOR
 * on one server).
 */
export function standaloneOnly<F extends Registrar>(register: F, reason: string): F {
  if (!reason.trim()) throw new Error('standaloneOnly: give the reason the test cannot run on a cluster');
  const wrapped = (name: string, ...rest: never[]) => (isClusterTestRun() ? register.skip(`${name} [standalone only: ${reason}]`, ...rest) : register(name, ...rest));
  return wrapped as unknown as F;
}
