import { performance } from 'node:perf_hooks';
import { agentQueue, createWorker, defaultJobOptions } from '@platform/queue';
import { closeConnection } from '@platform/redis';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BenchContext } from './context';
import { completions, throughput } from './measure';
import { alternate } from './results';

/** Same payload on both sides: what an agent job carries. */
function payload(i: number) {
  return { tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} as Record<string, unknown> };
}

type AgentQueue = ReturnType<typeof agentQueue>;

/** The two sides of the queue benchmarks, on their own key prefixes. */
export interface QueueSides {
  role: string;
  platformPrefix: string;
  rawPrefix: string;
  platform: AgentQueue;
  raw: Queue;
  close(): Promise<void>;
}

/**
 * Platform: `agentQueue(role)` on a platform producer connection (validation, size check,
 * enqueue timeout, job defaults), FIFO (`fairness: 'none'`). Raw: a BullMQ `Queue` on a plain
 * ioredis client with the same job options, so the ratio is the cost of the layer, not of
 * different retention settings or of fair scheduling (measured apart: fair / plain).
 */
export function queueSides(ctx: BenchContext, label: string, variant: { rawConnection?: Redis | undefined; noTimeLimits?: boolean } = {}): QueueSides {
  const role = `${ctx.runId}-${label}`;
  const platformPrefix = `${ctx.runId}-${label}-p`;
  const rawPrefix = `${ctx.runId}-${label}-r`;
  const platform = agentQueue(role, {
    connection: ctx.platformClient('producer'),
    prefix: platformPrefix,
    // Compared with raw BullMQ FIFO: plain on both sides (the catalog's default is 'per-tenant').
    fairness: 'none',
    onError: () => undefined,
    ...(variant.noTimeLimits ? { timeouts: undefined } : {}),
  });
  const raw = new Queue(platform.name, {
    connection: variant.rawConnection ?? ctx.plainClient(),
    prefix: rawPrefix,
    defaultJobOptions: { ...defaultJobOptions },
  });
  raw.on('error', () => undefined);
  return {
    role,
    platformPrefix,
    rawPrefix,
    platform,
    raw,
    async close() {
      await platform.close();
      await raw.close();
    },
  };
}

async function fillPlatform(def: AgentQueue, total: number): Promise<void> {
  for (let start = 0; start < total; start += 1000) {
    const chunk = Array.from({ length: Math.min(1000, total - start) }, (_, k) => payload(start + k));
    await def.enqueueBulk(chunk);
  }
}

async function fillRaw(queue: Queue, name: string, total: number): Promise<void> {
  for (let start = 0; start < total; start += 1000) {
    const chunk = Array.from({ length: Math.min(1000, total - start) }, (_, k) => ({ name, data: payload(start + k) }));
    await queue.addBulk(chunk);
  }
}

/** Section 1: enqueue (one at a time, 50 in flight, bulk) and end-to-end processing. */
export async function runQueueBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log } = ctx;
  const section = '1. Queue';
  const sides = queueSides(ctx, 'q');
  const { platform, raw, role } = sides;
  const cleanup = async () => {
    await ctx.deleteKeys(`${sides.platformPrefix}:`);
    await ctx.deleteKeys(`${sides.rawPrefix}:`);
  };

  const nOne = ctx.size(3000, 100);
  const nFlight = ctx.size(10_000, 300);
  const bulkSize = ctx.size(1000, 200);
  const bulkBatches = ctx.size(10, 1);
  const nE2e = ctx.size(20_000, 500);
  const unit = 'jobs/s';

  const figures = [
    ['enqueue1', 'enqueue, one at a time'],
    ['enqueue50', 'enqueue, 50 in flight'],
    ['bulk', `bulk, batches of ${bulkSize}`],
    ['e2e', `end-to-end ${nE2e} no-op jobs, 1 worker x concurrency 50`],
  ] as const;
  for (const [id, benchmark] of figures) {
    results.figure({ id: `queue.${id}.platform`, section, benchmark, subject: '@platform/queue', unit, better: 'higher' });
    results.figure({ id: `queue.${id}.bullmq`, section, benchmark, subject: 'raw BullMQ', unit, better: 'higher' });
    results.compare({ label: `${benchmark}: platform / BullMQ`, platform: `queue.${id}.platform`, anchor: `queue.${id}.bullmq`, op: '>=', target: 0.95 });
  }

  // Warm-up: scripts loaded, connections up, JIT warm on both sides.
  await throughput(200, 20, (i) => platform.enqueue(payload(i)));
  await throughput(200, 20, (i) => raw.add(role, payload(i)));
  await cleanup();

  log('  enqueue, one at a time');
  await alternate(ctx.rounds, [
    { name: 'platform', run: async () => { results.add('queue.enqueue1.platform', await throughput(nOne, 1, (i) => platform.enqueue(payload(i)))); await cleanup(); } },
    { name: 'bullmq', run: async () => { results.add('queue.enqueue1.bullmq', await throughput(nOne, 1, (i) => raw.add(role, payload(i)))); await cleanup(); } },
  ], log);

  log('  enqueue, 50 in flight');
  await alternate(ctx.rounds, [
    { name: 'platform', run: async () => { results.add('queue.enqueue50.platform', await throughput(nFlight, 50, (i) => platform.enqueue(payload(i)))); await cleanup(); } },
    { name: 'bullmq', run: async () => { results.add('queue.enqueue50.bullmq', await throughput(nFlight, 50, (i) => raw.add(role, payload(i)))); await cleanup(); } },
  ], log);

  log('  bulk');
  const batches = (make: (b: number) => unknown[]) => Array.from({ length: bulkBatches }, (_, b) => make(b));
  await alternate(ctx.rounds, [
    {
      name: 'platform',
      run: async () => {
        const input = batches((b) => Array.from({ length: bulkSize }, (_, k) => payload(b * bulkSize + k))) as ReturnType<typeof payload>[][];
        const start = performance.now();
        for (const batch of input) await platform.enqueueBulk(batch);
        results.add('queue.bulk.platform', (bulkSize * bulkBatches) / ((performance.now() - start) / 1000));
        await cleanup();
      },
    },
    {
      name: 'bullmq',
      run: async () => {
        const input = batches((b) => Array.from({ length: bulkSize }, (_, k) => ({ name: role, data: payload(b * bulkSize + k) }))) as {
          name: string;
          data: ReturnType<typeof payload>;
        }[][];
        const start = performance.now();
        for (const batch of input) await raw.addBulk(batch);
        results.add('queue.bulk.bullmq', (bulkSize * bulkBatches) / ((performance.now() - start) / 1000));
        await cleanup();
      },
    },
  ], log);

  log('  end-to-end');
  const timeoutMs = 120_000;
  await alternate(ctx.rounds, [
    {
      name: 'platform',
      run: async () => {
        await fillPlatform(platform, nE2e);
        const connection = ctx.platformClient('worker');
        const worker = createWorker(platform, async () => undefined, {
          connection,
          concurrency: 50,
          autorun: false,
          handleSignals: false,
          onError: () => undefined,
        });
        const done = completions(worker, nE2e, timeoutMs);
        const start = performance.now();
        void worker.run().catch(() => undefined);
        await done;
        results.add('queue.e2e.platform', nE2e / ((performance.now() - start) / 1000));
        await worker.close();
        await closeConnection(connection);
        await cleanup();
      },
    },
    {
      name: 'bullmq',
      run: async () => {
        await fillRaw(raw, role, nE2e);
        const connection = ctx.plainClient({ maxRetriesPerRequest: null });
        const worker = new Worker(raw.name, async () => undefined, { connection, prefix: sides.rawPrefix, concurrency: 50, autorun: false });
        worker.on('error', () => undefined);
        const done = completions(worker, nE2e, timeoutMs);
        const start = performance.now();
        void worker.run().catch(() => undefined);
        await done;
        results.add('queue.e2e.bullmq', nE2e / ((performance.now() - start) / 1000));
        await worker.close();
        await closeConnection(connection);
        await cleanup();
      },
    },
  ], log);

  results.notes.push(
    `Queue: payload { tenantId, activityId, input: {} }; platform = agentQueue({ fairness: 'none' }) (FIFO, as raw BullMQ; the catalog's default is 'per-tenant', measured apart as fair / plain) on a createRedisConnection producer connection; ` +
      `raw = BullMQ Queue on a plain ioredis client with the same job options (attempts 3, exponential backoff, removeOnComplete 24 h, removeOnFail 7 d). ` +
      `Sizes: ${nOne} sequential, ${nFlight} at 50 in flight, ${bulkBatches} x ${bulkSize} bulk, ${nE2e} end-to-end per round.`,
  );
  await sides.close();
  await cleanup();
}
