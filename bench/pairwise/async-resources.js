// Async resources (promises, timers...) created per job while one worker runs N no-op jobs: the
// platform's worker (tracing off and on) and plain BullMQ's. With Node 20's AsyncLocalStorage
// every one of them runs the context manager's init hook, so this count is what the
// AsyncLocalStorage share of a traced job scales with (bench/README.md, "Tracing, round 7").
//   npm run build -w bench && node bench/pairwise/async-resources.js     (env: MODES=disabled,on,bullmq; N)
'use strict';
const asyncHooks = require('node:async_hooks');
const { agentQueue, createWorker } = require('@platform/queue');
const { closeConnection, createRedisConnection, loadRedisConfig } = require('@platform/redis');
const { startRedisServer } = require('@platform/testing');
const { Queue, Worker } = require('bullmq');
const { completions } = require('../dist/measure');
const { tracingModes } = require('../dist/tracing-bench');

const N = Number(process.env.N ?? 5000);
const MODES = (process.env.MODES ?? 'disabled,on,bullmq').split(',');
const payload = (i) => ({ tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} });

let counts;
const hook = asyncHooks.createHook({
  init(_id, type) {
    if (counts) counts[type] = (counts[type] ?? 0) + 1;
  },
});

/** Runs `worker` over the N jobs already enqueued and returns the async resources created meanwhile, by type. */
async function counted(worker) {
  const finished = completions(worker, N, 120_000);
  counts = {};
  void worker.run().catch(() => undefined);
  await finished;
  const result = counts;
  counts = undefined;
  return result;
}

async function main() {
  const server = await startRedisServer();
  const config = loadRedisConfig({ REDIS_URL: server.url });
  const producer = createRedisConnection(config, { role: 'producer' });
  const queue = agentQueue('async-resources', { connection: producer, prefix: 'ar', fairness: 'none', onError: () => undefined });
  const { use, shutdown } = tracingModes();
  hook.enable();
  try {
    for (const mode of MODES) {
      let byType;
      if (mode === 'bullmq') {
        await use('off');
        const plain = new Queue('async-resources', { connection: producer, prefix: 'ar-bullmq' });
        for (let s = 0; s < N; s += 1000) await plain.addBulk(Array.from({ length: 1000 }, (_, k) => ({ name: 'agent', data: payload(s + k) })));
        const connection = createRedisConnection(config, { role: 'worker' });
        const worker = new Worker('async-resources', async () => undefined, { connection, prefix: 'ar-bullmq', concurrency: 50, autorun: false });
        worker.on('error', () => undefined);
        byType = await counted(worker);
        await worker.close();
        await plain.close();
        await closeConnection(connection);
      } else {
        await use(mode);
        for (let s = 0; s < N; s += 1000) await queue.enqueueBulk(Array.from({ length: 1000 }, (_, k) => payload(s + k)));
        const connection = createRedisConnection(config, { role: 'worker' });
        const worker = createWorker(queue, async () => undefined, { connection, concurrency: 50, autorun: false, handleSignals: false, onError: () => undefined });
        byType = await counted(worker);
        await worker.close();
        await closeConnection(connection);
      }
      const total = Object.values(byType).reduce((sum, n) => sum + n, 0);
      const types = Object.entries(byType)
        .sort((a, b) => b[1] - a[1])
        .map(([type, n]) => `${type} ${(n / N).toFixed(2)}`)
        .join(', ');
      console.log(`${mode}: ${(total / N).toFixed(1)} async resources per job (${types})`);
    }
  } finally {
    hook.disable();
    await use('off');
    await queue.close();
    await shutdown();
    await closeConnection(producer);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
