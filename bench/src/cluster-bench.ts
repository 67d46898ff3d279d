/**
 * Section 9: the same work on a 3-master Redis Cluster and on the run's standalone Redis, same
 * machine, same run, alternating within every round.
 * - End to end: 3 queues (each on its own master on the cluster: their hash tags hash to the three
 *   slot ranges), `enqueueBulk` in batches of 100, one worker per queue (concurrency 16, a no-op
 *   handler); jobs/s from the first enqueue to the last completion.
 * - Limiter decisions/s: a fixed-window limiter over 1,000 tenants, 50 calls in flight (on the
 *   cluster each tenant's key hashes to its own slot, so the calls spread over the masters).
 * - The same end-to-end run with raw BullMQ (informative): what a cluster costs BullMQ itself on this
 *   machine, so that the platform's ratio can be read against it. Connections as the platform makes
 *   them: on the cluster a plain connection per queue to its master (producer and worker), on the
 *   standalone one producer connection shared by the three queues and one per worker.
 * The cluster has no replicas, like the standalone server, so both sides do the same writes. On
 * one machine the cluster cannot be faster (its masters share the cores); the ratio is the cost of
 * routing by slot, and the docs give the scaling argument (docs/cluster.md).
 */
import { closeConnection, createRedisConnection, loadRedisConfig, type RedisClient, type RedisConfig } from '@platform/redis';
import { clusterMasterOf } from '@platform/redis/internal';
import { createWorker, defineQueue, type QueueDefinition } from '@platform/queue';
import { createRateLimiter } from '@platform/ratelimit';
import { deleteKeysByPrefix, startRedisCluster, uniquePrefix } from '@platform/testing';
import { Queue, Worker } from 'bullmq';
import { Redis, type Cluster } from 'ioredis';
import { z } from 'zod';
import type { BenchContext } from './context';
import { endQueueRun, throughput } from './measure';
import { alternate } from './results';

/** Queue names whose hash tags fall in the three slot ranges `redis-cli --cluster create` assigns. */
export const CLUSTER_BENCH_QUEUES = ['bench__cluster-a', 'bench__cluster-b', 'bench__cluster-c'] as const;
const schema = z.object({ documentId: z.string() });

/** CPU seconds (user + sys) the Redis servers behind `client` have used: every master of a cluster. */
async function redisCpuSeconds(client: RedisClient): Promise<number> {
  if (client.isCluster) await client.ping(); // the node list is known once the slots are loaded
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  let total = 0;
  for (const node of nodes) {
    const info = await node.info('cpu');
    for (const field of ['used_cpu_sys', 'used_cpu_user']) total += Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  }
  return total;
}

/** What {@link endToEnd} measures: throughput, and CPU per job of this process and of Redis. */
export interface EndToEndResult {
  jobsPerSecond: number;
  nodeCpuUsPerJob: number;
  redisCpuUsPerJob: number;
}

/** Jobs/s of 3 queues end to end on the Redis of `config` (cluster or standalone). */
export async function endToEnd(config: RedisConfig, jobsPerQueue: number, runId: string): Promise<EndToEndResult> {
  const producer = createRedisConnection(config, { role: 'producer' });
  const workerConnections: RedisClient[] = [];
  const prefix = `${runId}-${uniquePrefix('cl')}`;
  const definitions: QueueDefinition<typeof schema>[] = CLUSTER_BENCH_QUEUES.map((full) =>
    defineQueue({
      namespace: full.split('__')[0]!,
      name: full.split('__')[1]!,
      schema,
      prefix,
      connection: producer,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    }),
  );
  const total = jobsPerQueue * definitions.length;
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const workers = definitions.map((definition) => {
    const connection = createRedisConnection(config, { role: 'worker' });
    workerConnections.push(connection);
    return createWorker(
      definition,
      async () => {
        if (++done === total) finished();
      },
      { connection, concurrency: 16, handleSignals: false },
    );
  });
  try {
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    const redisCpuBefore = await redisCpuSeconds(producer);
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    await Promise.all(
      definitions.map(async (definition) => {
        for (let k = 0; k < jobsPerQueue; k += 100) {
          await definition.enqueueBulk(Array.from({ length: Math.min(100, jobsPerQueue - k) }, (_, j) => ({ tenantId: `t${(k + j) % 20}`, documentId: `d${k + j}` })));
        }
      }),
    );
    await allDone;
    const elapsedMs = Math.max(Date.now() - start, 1);
    const cpu = process.cpuUsage(cpuBefore);
    const redisCpu = (await redisCpuSeconds(producer)) - redisCpuBefore;
    return { jobsPerSecond: (total * 1000) / elapsedMs, nodeCpuUsPerJob: (cpu.user + cpu.system) / total, redisCpuUsPerJob: (redisCpu * 1e6) / total };
  } finally {
    await endQueueRun({ workers, definitions, producer, connections: [producer, ...workerConnections], prefix });
  }
}

/**
 * {@link endToEnd} with raw BullMQ: the same queues, payloads, job options, batches and concurrency,
 * keys tagged per queue on both sides. Its own plain ioredis connections: on a cluster one producer
 * and one worker connection per queue to the master of the queue's slot (as `defineQueue` and
 * `createWorker` do), on a standalone server one producer connection for all three queues and one
 * per worker (as the platform's standalone side); BullMQ adds its blocking connection per worker.
 */
export async function rawEndToEnd(config: RedisConfig, jobsPerQueue: number, runId: string): Promise<EndToEndResult> {
  const admin = createRedisConnection(config, { role: 'producer' });
  const prefix = `${runId}-${uniquePrefix('clraw')}`;
  const connections: Redis[] = [];
  const connect = (queuePrefix: string, role: 'producer' | 'worker'): Redis => {
    const options = { password: config.password, username: config.username, maxRetriesPerRequest: role === 'worker' ? null : 20 };
    let client: Redis;
    if (admin.isCluster) {
      const master = clusterMasterOf(admin, `${queuePrefix}:x`);
      if (!master) throw new Error(`no master known for ${queuePrefix}`);
      const colon = master.lastIndexOf(':');
      client = new Redis({ ...options, host: master.slice(0, colon), port: Number(master.slice(colon + 1)) });
    } else {
      client = new Redis({ ...options, host: config.host, port: config.port, db: config.db });
    }
    connections.push(client);
    return client;
  };
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  const total = jobsPerQueue * CLUSTER_BENCH_QUEUES.length;
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  try {
    await admin.ping(); // a cluster's slot table is loaded once it answered
    let sharedProducer: Redis | undefined;
    for (const name of CLUSTER_BENCH_QUEUES) {
      const queuePrefix = `${prefix}:{${name}}`;
      const producer = admin.isCluster ? connect(queuePrefix, 'producer') : (sharedProducer ??= connect(queuePrefix, 'producer'));
      queues.push(new Queue(name, { connection: producer, prefix: queuePrefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } }));
      workers.push(
        new Worker(
          name,
          async () => {
            if (++done === total) finished();
          },
          { connection: connect(queuePrefix, 'worker'), prefix: queuePrefix, concurrency: 16 },
        ),
      );
    }
    await Promise.all([...workers.map((worker) => worker.waitUntilReady()), ...queues.map((queue) => queue.waitUntilReady())]);
    const redisCpuBefore = await redisCpuSeconds(admin);
    const cpuBefore = process.cpuUsage();
    const start = Date.now();
    await Promise.all(
      queues.map(async (queue) => {
        for (let k = 0; k < jobsPerQueue; k += 100) {
          await queue.addBulk(
            Array.from({ length: Math.min(100, jobsPerQueue - k) }, (_, j) => ({ name: 'bench', data: { tenantId: `t${(k + j) % 20}`, documentId: `d${k + j}` } })),
          );
        }
      }),
    );
    await allDone;
    const elapsedMs = Math.max(Date.now() - start, 1);
    const cpu = process.cpuUsage(cpuBefore);
    const redisCpu = (await redisCpuSeconds(admin)) - redisCpuBefore;
    return { jobsPerSecond: (total * 1000) / elapsedMs, nodeCpuUsPerJob: (cpu.user + cpu.system) / total, redisCpuUsPerJob: (redisCpu * 1e6) / total };
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    await Promise.all(queues.map((queue) => queue.close()));
    await deleteKeysByPrefix(admin, `${prefix}:`).catch(() => undefined);
    await Promise.all([admin, ...connections].map((client) => closeConnection(client)));
  }
}

/** Limiter decisions/s over 1,000 tenants with 50 calls in flight. */
export async function limiterDecisions(config: RedisConfig, decisions: number, runId: string): Promise<number> {
  const redis = createRedisConnection(config, { role: 'producer' });
  const keyPrefix = `${runId}-${uniquePrefix('rl')}`;
  const limiter = createRateLimiter({ redis, provider: 'bench', limit: 1_000_000, windowSeconds: 60, keyPrefix });
  try {
    await throughput(Math.min(500, decisions), 50, (i) => limiter.consume(`t${i % 1000}`));
    return await throughput(decisions, 50, (i) => limiter.consume(`t${i % 1000}`));
  } finally {
    await deleteKeysByPrefix(redis, `${keyPrefix}:`).catch(() => undefined);
    await closeConnection(redis);
  }
}

export async function runClusterBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log } = ctx;
  const section = '9. Redis Cluster (3 masters) vs standalone';
  const e2e = 'end-to-end jobs/s, 3 queues (one per master on the cluster), one worker each (concurrency 16)';
  results.figure({ id: 'cluster.e2e.cluster', section, benchmark: e2e, subject: '3-master cluster', unit: 'jobs/s', better: 'higher' });
  results.figure({ id: 'cluster.e2e.standalone', section, benchmark: e2e, subject: 'one standalone Redis', unit: 'jobs/s', better: 'higher' });
  results.compare({ label: 'end to end, 3 queues: cluster / standalone', platform: 'cluster.e2e.cluster', anchor: 'cluster.e2e.standalone', op: '>=', target: 0.8 });
  // CPU per job moves far less than throughput on a loaded machine: where the difference comes from.
  const cpu = 'end to end, CPU per job';
  results.figure({ id: 'cluster.cpu.node.cluster', section, benchmark: cpu, subject: 'this Node process, 3-master cluster', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.cpu.node.standalone', section, benchmark: cpu, subject: 'this Node process, standalone', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.cpu.redis.cluster', section, benchmark: cpu, subject: 'Redis, 3 masters together', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.cpu.redis.standalone', section, benchmark: cpu, subject: 'Redis, standalone', unit: 'µs', better: 'lower' });
  results.compare({ label: 'Node CPU per job: cluster / standalone', platform: 'cluster.cpu.node.cluster', anchor: 'cluster.cpu.node.standalone' });
  results.compare({ label: 'Redis CPU per job: cluster / standalone', platform: 'cluster.cpu.redis.cluster', anchor: 'cluster.cpu.redis.standalone' });
  // What the cluster costs BullMQ itself here: the platform's ratios above read against these.
  const raw = 'raw BullMQ, the same end-to-end run (same connections per side as the platform)';
  results.figure({ id: 'cluster.raw.e2e.cluster', section, benchmark: raw, subject: 'jobs/s, 3-master cluster', unit: 'jobs/s', better: 'higher' });
  results.figure({ id: 'cluster.raw.e2e.standalone', section, benchmark: raw, subject: 'jobs/s, one standalone Redis', unit: 'jobs/s', better: 'higher' });
  results.figure({ id: 'cluster.raw.cpu.node.cluster', section, benchmark: raw, subject: 'Node CPU per job, 3-master cluster', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.raw.cpu.node.standalone', section, benchmark: raw, subject: 'Node CPU per job, standalone', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.raw.cpu.redis.cluster', section, benchmark: raw, subject: 'Redis CPU per job, 3 masters together', unit: 'µs', better: 'lower' });
  results.figure({ id: 'cluster.raw.cpu.redis.standalone', section, benchmark: raw, subject: 'Redis CPU per job, standalone', unit: 'µs', better: 'lower' });
  results.compare({ label: 'raw BullMQ end to end: cluster / standalone', platform: 'cluster.raw.e2e.cluster', anchor: 'cluster.raw.e2e.standalone' });
  results.compare({ label: 'raw BullMQ Node CPU per job: cluster / standalone', platform: 'cluster.raw.cpu.node.cluster', anchor: 'cluster.raw.cpu.node.standalone' });
  results.compare({ label: 'raw BullMQ Redis CPU per job: cluster / standalone', platform: 'cluster.raw.cpu.redis.cluster', anchor: 'cluster.raw.cpu.redis.standalone' });
  const rl = 'limiter decisions/s (fixed window, 1,000 tenants, 50 in flight)';
  results.figure({ id: 'cluster.rl.cluster', section, benchmark: rl, subject: '3-master cluster', unit: 'decisions/s', better: 'higher' });
  results.figure({ id: 'cluster.rl.standalone', section, benchmark: rl, subject: 'one standalone Redis', unit: 'decisions/s', better: 'higher' });
  results.compare({ label: 'limiter decisions: cluster / standalone', platform: 'cluster.rl.cluster', anchor: 'cluster.rl.standalone' });

  const cluster = await startRedisCluster({ replicasPerMaster: 0 });
  try {
    const clusterConfig = loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv });
    const standaloneConfig = loadRedisConfig({ REDIS_URL: ctx.redisUrl });
    const jobsPerQueue = ctx.size(3000, 100);
    const decisions = ctx.size(20_000, 500);
    // Warm-up: scripts loaded and connections opened on both sides.
    await endToEnd(clusterConfig, Math.min(200, jobsPerQueue), ctx.runId);
    await endToEnd(standaloneConfig, Math.min(200, jobsPerQueue), ctx.runId);
    await rawEndToEnd(clusterConfig, Math.min(200, jobsPerQueue), ctx.runId);
    await rawEndToEnd(standaloneConfig, Math.min(200, jobsPerQueue), ctx.runId);
    const rounds = Math.min(ctx.rounds, 3);
    const record = (side: 'cluster' | 'standalone', r: EndToEndResult, of: 'cluster' | 'cluster.raw' = 'cluster'): void => {
      results.add(`${of}.e2e.${side}`, r.jobsPerSecond);
      results.add(`${of}.cpu.node.${side}`, r.nodeCpuUsPerJob);
      results.add(`${of}.cpu.redis.${side}`, r.redisCpuUsPerJob);
    };
    await alternate(
      rounds,
      [
        { name: 'cluster e2e', run: async () => record('cluster', await endToEnd(clusterConfig, jobsPerQueue, ctx.runId)) },
        { name: 'standalone e2e', run: async () => record('standalone', await endToEnd(standaloneConfig, jobsPerQueue, ctx.runId)) },
        { name: 'raw BullMQ cluster e2e', run: async () => record('cluster', await rawEndToEnd(clusterConfig, jobsPerQueue, ctx.runId), 'cluster.raw') },
        { name: 'raw BullMQ standalone e2e', run: async () => record('standalone', await rawEndToEnd(standaloneConfig, jobsPerQueue, ctx.runId), 'cluster.raw') },
      ],
      log,
    );
    await alternate(
      rounds,
      [
        { name: 'cluster limiter', run: async () => results.add('cluster.rl.cluster', await limiterDecisions(clusterConfig, decisions, ctx.runId)) },
        { name: 'standalone limiter', run: async () => results.add('cluster.rl.standalone', await limiterDecisions(standaloneConfig, decisions, ctx.runId)) },
      ],
      log,
    );
  } finally {
    await cluster.stop();
  }
}
