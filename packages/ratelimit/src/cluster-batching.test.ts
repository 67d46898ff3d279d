import { ReplyError, type Cluster } from 'ioredis';
import { createRedisConnection, loadRedisConfig, type RedisClient } from '@platform/redis';
import { clusterMasterOf } from '@platform/redis/internal';
import { redisServerAvailable, startRedisCluster, type RedisCluster } from '@platform/testing';
import { RATE_LIMIT_ALGORITHMS } from './options';
import { createRateLimiter, type RateLimitResult } from './rate-limiter';
import { decisionScripts } from './scripts';

// A Redis Cluster of its own (3 masters, no replicas): the node batches of the limiter on a cluster.
// Runs in the standalone project only (jest/projects.js STANDALONE_ONLY_FILES): it needs no other Redis.

if (!redisServerAvailable()) throw new Error('redis-server is required for the cluster batching tests');

let cluster: RedisCluster;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  redis = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv }), { role: 'producer' });
  await redis.ping(); // the slot table is loaded
}, 90_000);

afterAll(async () => {
  await redis?.quit();
  await cluster?.stop();
});

const nodeBatchShas = new Set(Object.values(decisionScripts).map((s) => s.nodeBatch.sha));
const isNodeBatch = (property: string | symbol, args: unknown[]) =>
  (property === 'evalsha' && nodeBatchShas.has(String(args[0]))) || (property === 'eval' && String(args[0]).startsWith('#!lua'));

/**
 * `client` with its EVALSHA/EVAL calls counted, node batch calls apart; `slots` (the slot table
 * the limiter groups by) and the node batch scripts' replies can be replaced. The client's own
 * routing keeps its real slot table (its methods run on the real client).
 */
function instrumented(
  client: RedisClient,
  options: { slots?: string[][]; nodeBatchError?: Error } = {},
): { client: RedisClient; scriptCalls: () => number; nodeBatchCalls: () => number } {
  let calls = 0;
  let nodeBatches = 0;
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === 'slots' && options.slots) return options.slots;
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (property !== 'evalsha' && property !== 'eval') return bound;
      return (...args: unknown[]) => {
        calls++;
        if (!isNodeBatch(property, args)) return bound(...args);
        nodeBatches++;
        return options.nodeBatchError ? Promise.reject(options.nodeBatchError) : bound(...args);
      };
    },
  });
  return { client: proxy, scriptCalls: () => calls, nodeBatchCalls: () => nodeBatches };
}

/** Tenants whose keys (for `provider`) lie on `perMaster` different slots of each master. */
function tenantsOnEveryMaster(provider: string, prefix: string, perMaster: number): string[] {
  const probe = createRateLimiter({ redis, provider, prefix, limit: 1, windowSeconds: 1 });
  const byMaster = new Map<string, string[]>();
  for (let i = 0; [...byMaster.values()].filter((t) => t.length >= perMaster).length < 3; i++) {
    const tenant = `t${i}`;
    const master = clusterMasterOf(redis, probe.key(tenant))!;
    const list = byMaster.get(master) ?? [];
    if (list.length < perMaster) list.push(tenant);
    byMaster.set(master, list);
  }
  return [...byMaster.values()].flat();
}

/** What a result says, without the times. */
const shape = (r: RateLimitResult) => ({ allowed: r.allowed, remaining: r.remaining, retries: r.retryAfterMs > 0 });

/** The same calls, one turn through `batched`, then one by one through an unbatched limiter on other keys. */
async function compare(
  batchedClient: RedisClient,
  algorithm: (typeof RATE_LIMIT_ALGORITHMS)[number],
  prefix: string,
): Promise<{ fromBatch: RateLimitResult[]; fromSingles: RateLimitResult[]; tenants: string[] }> {
  const options = { limit: 7, windowSeconds: 3600, algorithm, shortCircuit: false, prefix } as const;
  const tenants = tenantsOnEveryMaster(`b-${algorithm}`, prefix, 3);
  const calls = Array.from({ length: 90 }, (_, i) => ({ tenant: tenants[i % tenants.length]!, cost: 1 + (i % 4 === 0 ? 1 : 0) }));
  const batched = createRateLimiter({ ...options, redis: batchedClient, provider: `b-${algorithm}` });
  const single = createRateLimiter({ ...options, redis, provider: `s-${algorithm}`, batching: false });
  const fromBatch = await Promise.all(calls.map((c) => batched.consume(c.tenant, { cost: c.cost })));
  const fromSingles: RateLimitResult[] = [];
  for (const c of calls) fromSingles.push(await single.consume(c.tenant, { cost: c.cost }));
  return { fromBatch, fromSingles, tenants };
}

describe('batching on a Redis Cluster: one script call per master', () => {
  it.each(RATE_LIMIT_ALGORITHMS)('%s: 90 calls over 9 tenants on 3 masters decide as one by one, in at most one script call per master', async (algorithm) => {
    const counted = instrumented(redis);
    const { fromBatch, fromSingles } = await compare(counted.client, algorithm, `nb1-${algorithm}`);
    expect(fromBatch.map(shape)).toEqual(fromSingles.map(shape));
    expect(fromBatch.filter((r) => r.allowed).length).toBeGreaterThan(0);
    expect(fromBatch.filter((r) => !r.allowed).length).toBeGreaterThan(0);
    // One node batch per master (and an EVAL after an EVALSHA that met NOSCRIPT on that master).
    expect(counted.nodeBatchCalls()).toBeGreaterThanOrEqual(3);
    expect(counted.scriptCalls()).toBeLessThanOrEqual(6);
  });

  it('100 concurrent callers of tenants on every master: exactly the limit of each is allowed, and the counters say so', async () => {
    const limiter = createRateLimiter({ redis, provider: 'burst', prefix: 'nb2', limit: 10, windowSeconds: 3600, shortCircuit: false });
    const tenants = tenantsOnEveryMaster('burst', 'nb2', 1);
    const results = await Promise.all(Array.from({ length: 99 }, (_, i) => limiter.consume(tenants[i % 3]!)));
    expect(results.filter((r) => r.allowed)).toHaveLength(30);
    for (const tenant of tenants) expect(await redis.get(limiter.key(tenant))).toBe('10');
  });

  it('calls whose keys their assumed master does not serve (an out-of-date slot table) are decided again on their own, exactly', async () => {
    // The limiter is told every slot is on one master: its one batch goes to the first key's real
    // master, where the other masters' keys fail as "non local" and are decided again alone.
    const oneMaster = Array.from({ length: 16384 }, () => ['127.0.0.1:1']);
    const stale = instrumented(redis, { slots: oneMaster });
    const { fromBatch, fromSingles, tenants } = await compare(stale.client, 'fixed-window', 'nb3');
    expect(fromBatch.map(shape)).toEqual(fromSingles.map(shape));
    expect(stale.nodeBatchCalls()).toBeGreaterThanOrEqual(1);
    // The retried calls went one by one: more script calls than batches, fewer than calls.
    expect(stale.scriptCalls()).toBeGreaterThan(stale.nodeBatchCalls() + 10);
    const probe = createRateLimiter({ redis, provider: 'b-fixed-window', prefix: 'nb3', limit: 7, windowSeconds: 3600 });
    for (const tenant of tenants) expect(Number(await redis.get(probe.key(tenant)))).toBeLessThanOrEqual(7);
  });

  it('on servers that cannot run a flagged script (before Redis 7) every call is decided on its own, and later turns do not try again', async () => {
    const compileError = new (ReplyError as new (message: string) => Error)(
      "ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'",
    );
    const old = instrumented(redis, { nodeBatchError: compileError });
    const { fromBatch, fromSingles } = await compare(old.client, 'token-bucket', 'nb4');
    expect(fromBatch.map(shape)).toEqual(fromSingles.map(shape));
    const firstTurn = old.nodeBatchCalls();
    expect(firstTurn).toBeGreaterThanOrEqual(1);
    expect(firstTurn).toBeLessThanOrEqual(3);
    // The same limiter, a second turn: no node batch any more.
    const limiter = createRateLimiter({ redis: old.client, provider: 'b-token-bucket-2', prefix: 'nb4', limit: 7, windowSeconds: 3600 });
    const tenants = tenantsOnEveryMaster('b-token-bucket-2', 'nb4', 2);
    await Promise.all(tenants.map((t) => limiter.consume(t)));
    const before = old.nodeBatchCalls();
    const again = await Promise.all(tenants.map((t) => limiter.consume(t)));
    expect(again.every((r) => r.allowed && r.remaining === 5)).toBe(true);
    expect(old.nodeBatchCalls()).toBe(before);
  });
});

describe('a service Cluster client with its own keyPrefix', () => {
  it("node batches write the keys ioredis would (the client's prefix before each), and decide as one by one", async () => {
    const prefixed = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv }), { role: 'producer' }) as Cluster;
    prefixed.options.keyPrefix = 'svc:';
    try {
      await prefixed.ping();
      const counted = instrumented(prefixed);
      const { fromBatch, fromSingles, tenants } = await compare(counted.client, 'fixed-window', 'nb5');
      expect(fromBatch.map(shape)).toEqual(fromSingles.map(shape));
      expect(counted.nodeBatchCalls()).toBeGreaterThanOrEqual(1);
      const probe = createRateLimiter({ redis, provider: 'b-fixed-window', prefix: 'nb5', limit: 7, windowSeconds: 3600 });
      for (const tenant of tenants) {
        expect(Number(await redis.get(`svc:${probe.key(tenant)}`))).toBeGreaterThan(0);
        expect(await redis.exists(probe.key(tenant))).toBe(0);
      }
    } finally {
      await prefixed.quit();
    }
  });
});
