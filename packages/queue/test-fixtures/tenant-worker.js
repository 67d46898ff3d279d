// A worker process for the tenant-control tests: workers for one or more queues of a prefix.
// argv: prefix, JSON config { queues: [{ name, fair }], concurrency, jobMs, fairness?, pool?,
//   lockDuration?, stalledInterval? } where pool = { name, max, perTenant?, leaseMs?, keyPrefix }.
// Logs every run to the list `<prefix>:log` as JSON: { e: 's' | 'e', run, id, q, t, pid, at }.
const { randomUUID } = require('node:crypto');
const { createWorker, defineQueue, defineConcurrencyPool, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { z } = require('zod');

const [prefix, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const redisConfig = loadRedisConfig();
const producer = createRedisConnection(redisConfig);
const pool = config.pool ? defineConcurrencyPool(config.pool) : undefined;
const log = (entry) => producer.rpush(`${prefix}:log`, JSON.stringify({ ...entry, pid: process.pid, at: Date.now() }));
for (const queue of config.queues) {
  const definition = defineQueue({
    namespace: 'agent',
    name: queue.name,
    schema: z.object({ n: z.number() }),
    prefix,
    connection: producer,
    ...(queue.fair ? { fairness: { ...config.fairness } } : {}),
    ...(pool ? { pools: [pool] } : {}),
  });
  createWorker(
    definition,
    async (job, { tenantId }) => {
      const run = randomUUID();
      await log({ e: 's', run, id: job.id, q: queue.name, t: tenantId });
      if (config.jobMs > 0) await new Promise((resolve) => setTimeout(resolve, config.jobMs));
      await log({ e: 'e', run, id: job.id, q: queue.name, t: tenantId });
    },
    {
      connection: createRedisConnection(redisConfig, { role: 'worker' }),
      concurrency: config.concurrency,
      ...(config.lockDuration ? { lockDuration: config.lockDuration } : {}),
      ...(config.stalledInterval ? { stalledInterval: config.stalledInterval } : {}),
      shutdownTimeoutMs: 5000,
    },
  );
}
process.send?.('ready');
