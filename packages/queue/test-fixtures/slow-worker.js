// A worker process for the graceful-shutdown tests: each job takes JOB_MS ('hang': never ends and
// ignores its signal), then records completion; an aborted signal is recorded too.
const { createWorker, defineQueue, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { z } = require('zod');

const [prefix, jobMs, shutdownTimeoutMs = '10000'] = process.argv.slice(2);
const config = loadRedisConfig();
const producer = createRedisConnection(config);
const definition = defineQueue({ namespace: 'agent', name: 'shutdown', schema: z.object({ n: z.number() }), prefix, connection: producer });
createWorker(
  definition,
  async (job, { signal }) => {
    signal.addEventListener('abort', () => void producer.rpush(`${prefix}:aborted`, String(job.data.n)), { once: true });
    await producer.rpush(`${prefix}:started`, String(job.data.n));
    await new Promise((resolve) => (jobMs === 'hang' ? undefined : setTimeout(resolve, Number(jobMs))));
    await producer.rpush(`${prefix}:finished`, String(job.data.n));
  },
  { connection: createRedisConnection(config, { role: 'worker' }), concurrency: 2, shutdownTimeoutMs: Number(shutdownTimeoutMs) },
);
process.on('exit', (code) => producer.disconnect());
process.send?.('ready');
