// A worker process for the multi-process fairness and tenant-control tests: workers for one or
// more queues of a prefix.
// argv: prefix, JSON config { queues: [{ name, fair }], concurrency, jobMs, fairness?, rateTenants?,
//   pool?, lockDuration?, stalledInterval? } where pool = { name, max, perTenant?, leaseMs?, keyPrefix }
//   and rateTenants = { [tenantId]: tenantRate } (the fair queues' `tenantRate`).
// Logs every run to the list `<prefix>:log` as JSON: { e: 's' | 'e', run, id, q, t, pid, at }.
const { randomUUID } = require('node:crypto');
const { createWorker, defineQueue, defineConcurrencyPool, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { z } = require('zod');

const [prefix, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const redisConfig = loadRedisConfig();
const producer = createRedisConnection(redisConfig);
const pool = config.pool ? defineConcurrencyPool(config.pool) : undefined;
const fairness = { ...config.fairness };
if (config.rateTenants) fairness.tenantRate = (tenantId) => config.rateTenants[tenantId];
const log = (entry) => producer.rpush(`${prefix}:log`, JSON.stringify({ ...entry, pid: process.pid, at: Date.now() }));
for (const queue of config.queues) {
  const definition = defineQueue({
    namespace: 'agent',
    name: queue.name,
    schema: z.object({ n: z.number() }),
    prefix,
    connection: producer,
    ...(queue.fair ? { fairness } : {}),
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
