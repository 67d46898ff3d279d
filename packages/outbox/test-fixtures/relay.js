// A relay process for the multi-process outbox tests, against the built package.
// argv: JSON { pgUrl, schema, prefix, batchSize, hangAfterEnqueue? }.
// With hangAfterEnqueue, the first batch adds its jobs to BullMQ, reports 'mid-batch' to the parent
// and never commits (the parent SIGKILLs it there). Otherwise it relays until SIGTERM.
const { Pool } = require('pg');
const { defineQueue, createRedisConnection, loadRedisConfig } = require('@platform/queue');
const { startOutboxRelay } = require('@platform/outbox');
const { z } = require('zod');

const config = JSON.parse(process.argv[2]);
const connection = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const pool = new Pool({ connectionString: config.pgUrl, max: 4 });
pool.on('error', () => undefined);
const definition = defineQueue({ namespace: 'agent', name: 'mp', schema: z.object({ n: z.number().int() }), prefix: config.prefix, connection });

let queue = definition;
if (config.hangAfterEnqueue) {
  queue = Object.create(definition);
  queue.enqueueBulk = async (...args) => {
    const jobs = await definition.enqueueBulk(...args);
    process.send?.({ event: 'mid-batch', jobIds: jobs.map((job) => job.id) });
    await new Promise(() => undefined);
    return jobs;
  };
}

const relay = startOutboxRelay({
  pool,
  schema: config.schema,
  queues: [queue],
  notifications: false,
  batchSize: config.batchSize,
  pollIntervalMs: 200,
  onError: (error) => process.send?.({ event: 'error', message: error.message }),
});

process.once('SIGTERM', async () => {
  await relay.stop();
  process.send?.({ event: 'stopped', stats: relay.stats() });
  await definition.close();
  connection.disconnect();
  await pool.end();
  process.exit(0);
});
process.send?.({ event: 'ready' });
