// A worker process of a fair queue for the multi-process fairness tests.
// argv: prefix, JSON config { concurrency, jobMs, fairness, rateTenants?, lockDuration?, stalledInterval? }.
// Logs every run to the list `<prefix>:log` as JSON: { e: 's' | 'e', run, id, t, pid, at }.
const { randomUUID } = require('node:crypto');
const { createWorker, defineQueue, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { z } = require('zod');

const [prefix, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const redisConfig = loadRedisConfig();
const producer = createRedisConnection(redisConfig);
const fairness = { ...config.fairness };
if (config.rateTenants) fairness.tenantRate = (tenantId) => config.rateTenants[tenantId];
const definition = defineQueue({
  namespace: 'agent',
  name: 'fair',
  schema: z.object({ n: z.number() }),
  prefix,
  connection: producer,
  fairness,
});
const log = (entry) => producer.rpush(`${prefix}:log`, JSON.stringify({ ...entry, pid: process.pid, at: Date.now() }));
createWorker(
  definition,
  async (job, { tenantId }) => {
    const run = randomUUID();
    await log({ e: 's', run, id: job.id, t: tenantId });
    if (config.jobMs > 0) await new Promise((resolve) => setTimeout(resolve, config.jobMs));
    await log({ e: 'e', run, id: job.id, t: tenantId });
  },
  {
    connection: createRedisConnection(redisConfig, { role: 'worker' }),
    concurrency: config.concurrency,
    ...(config.lockDuration ? { lockDuration: config.lockDuration } : {}),
    ...(config.stalledInterval ? { stalledInterval: config.stalledInterval } : {}),
    shutdownTimeoutMs: 5000,
  },
);
process.send?.('ready');
