// A worker process for the graceful-shutdown test: each job takes JOB_MS, then records completion.
const { createWorker, defineQueue, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { z } = require('zod');

const [prefix, jobMs] = process.argv.slice(2);
const config = loadRedisConfig();
const producer = createRedisConnection(config);
const definition = defineQueue({ namespace: 'agent', name: 'shutdown', schema: z.object({ n: z.number() }), prefix, connection: producer });
createWorker(
  definition,
  async (job) => {
    await producer.rpush(`${prefix}:started`, String(job.data.n));
    await new Promise((resolve) => setTimeout(resolve, Number(jobMs)));
    await producer.rpush(`${prefix}:finished`, String(job.data.n));
  },
  { connection: createRedisConnection(config, { role: 'worker' }), concurrency: 2, shutdownTimeoutMs: 10_000 },
);
process.on('exit', (code) => producer.disconnect());
process.send?.('ready');
