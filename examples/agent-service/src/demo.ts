/**
 * `npm run demo`: two agent queues, jobs for three tenants, workers that process them, and a
 * summary per queue and tenant. Uses REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server.
 */
import { agentQueue, closeSharedConnections, createRedisConnection, createWorker, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, resolveDevRedis } from '@platform/testing';
import { table, Tally } from './summary';

const TENANTS = ['acme', 'globex', 'initech'];
const ROLES = ['activity-planner', 'blog-writer'];
const JOBS_PER_TENANT_AND_ROLE = 20;

async function main(): Promise<number> {
  const found = await resolveDevRedis();
  const config = loadRedisConfig({ ...process.env, REDIS_URL: found.url });
  console.log(`Redis: ${found.source === 'private' ? `throwaway redis-server on ${config.displayUrl}` : config.displayUrl}`);

  const prefix = `demo-${Date.now().toString(36)}`;
  const producer = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const processed = new Tally();
  const queues = ROLES.map((role) => agentQueue(role, { prefix, connection: producer }));
  const workers = queues.map((definition) =>
    createWorker(
      definition,
      async (job, { tenantId }) => {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
        processed.add(definition.name, tenantId);
        return { activityId: job.data.activityId };
      },
      { connection: workerConnection, concurrency: 10 },
    ),
  );

  let enqueued = 0;
  for (const definition of queues) {
    await definition.enqueueBulk(
      TENANTS.flatMap((tenantId) =>
        Array.from({ length: JOBS_PER_TENANT_AND_ROLE }, (_, i) => ({ tenantId, activityId: `${tenantId}-${i}`, input: {} })),
      ),
    );
    enqueued += TENANTS.length * JOBS_PER_TENANT_AND_ROLE;
  }

  const deadline = Date.now() + 30_000;
  while (processed.total() < enqueued && Date.now() < deadline) {
    process.stdout.write(`\rprocessed ${processed.total()}/${enqueued}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stdout.write(`\rprocessed ${processed.total()}/${enqueued}\n\n`);

  const rows: (string | number)[][] = [['queue', ...TENANTS, 'total']];
  for (const definition of queues) {
    const counts = TENANTS.map((t) => processed.get(definition.name, t));
    rows.push([definition.name, ...counts, counts.reduce((a, b) => a + b, 0)]);
  }
  console.log(table(rows));

  await Promise.all(workers.map((worker) => worker.close()));
  await Promise.all(queues.map((definition) => definition.close()));
  await deleteKeysByPrefix(producer, `${prefix}:`);
  producer.disconnect();
  workerConnection.disconnect();
  await closeSharedConnections();
  await found.server?.stop();

  const lost = enqueued - processed.total();
  console.log(`\n${enqueued} jobs enqueued, ${processed.total()} processed, ${lost} lost.`);
  return lost === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
