/**
 * The fair scheduler's overhead, end to end: 20 tenants enqueue the same number of jobs, interleaved
 * (no noisy neighbour, so fairness has nothing to correct), served by one worker of concurrency 16.
 * Jobs per second from the first start to the last end, for:
 * - plain: a queue without fairness (BullMQ FIFO);
 * - fair: `fairness: 'per-tenant'` with its defaults (window = the live workers' concurrency);
 * - fair + controls: the same with 1 paused tenant (an extra 21st tenant, whose jobs are not
 *   counted), 10 tenants with a runtime override and every job under one concurrency pool (large
 *   enough never to be full, so only its cost shows).
 */
import {
  createRedisConnection,
  createWorker,
  defineConcurrencyPool,
  defineQueue,
  loadRedisConfig,
  pauseTenant,
  setTenantLimits,
} from '@platform/queue';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';

export type FairOverheadMode = 'plain' | 'fair' | 'controls';

/** Result of {@link runFairOverhead}: jobs/s of each mode. */
export type FairOverheadResult = Record<FairOverheadMode, number>;

export const FAIR_OVERHEAD_TENANTS = 20;
export const FAIR_OVERHEAD_CONCURRENCY = 16;
export const FAIR_OVERHEAD_JOB_MS = 2;

const schema = z.object({ documentId: z.string() });

async function runOnce(redisUrl: string, jobsPerTenant: number, mode: FairOverheadMode): Promise<number> {
  const config = loadRedisConfig({ REDIS_URL: redisUrl });
  const producer = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const prefix = uniquePrefix(`bench-fo-${mode}`);
  const pool = defineConcurrencyPool({ name: `${prefix}-pool`, max: 1000 });
  const definition = defineQueue({
    namespace: 'bench',
    name: 'uniform',
    schema,
    prefix,
    connection: producer,
    ...(mode === 'plain' ? {} : { fairness: 'per-tenant' as const }),
    ...(mode === 'controls' ? { pools: [pool] } : {}),
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const tenants = Array.from({ length: FAIR_OVERHEAD_TENANTS }, (_, i) => `t${i}`);
  const total = tenants.length * jobsPerTenant;
  let done = 0;
  let firstStart = 0;
  let lastEnd = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const worker = createWorker(
    definition,
    async () => {
      if (firstStart === 0) firstStart = Date.now();
      await new Promise((resolve) => setTimeout(resolve, FAIR_OVERHEAD_JOB_MS));
      lastEnd = Date.now();
      if (++done === total) finished();
    },
    { connection: workerConnection, concurrency: FAIR_OVERHEAD_CONCURRENCY, handleSignals: false },
  );
  try {
    await worker.waitUntilReady();
    if (mode === 'controls') {
      await pauseTenant(definition, 'paused-one', { actor: 'bench' });
      for (const tenantId of tenants.slice(0, 10)) await setTenantLimits(definition, tenantId, { weight: 2 }, { actor: 'bench' });
      await definition.enqueueBulk(Array.from({ length: jobsPerTenant }, (_, k) => ({ tenantId: 'paused-one', documentId: `p-${k}` })));
    }
    // Interleaved batches of 100 jobs, 5 per tenant.
    for (let k = 0; k < jobsPerTenant; k += 5) {
      const batch = tenants.flatMap((tenantId) =>
        Array.from({ length: Math.min(5, jobsPerTenant - k) }, (_, j) => ({ tenantId, documentId: `${tenantId}-${k + j}` })),
      );
      await definition.enqueueBulk(batch);
    }
    await allDone;
  } finally {
    await worker.close();
    await definition.close();
    await deleteKeysByPrefix(producer, `${prefix}:`);
    await producer.del(pool.key);
    producer.disconnect();
    workerConnection.disconnect();
  }
  return (total * 1000) / Math.max(lastEnd - firstStart, 1);
}

/** Runs plain, fair and fair with controls once each (in that order) on the same Redis. */
export async function runFairOverhead({ redisUrl, quick = false }: { redisUrl: string; quick?: boolean }): Promise<FairOverheadResult> {
  const jobsPerTenant = quick ? 25 : 250;
  const plain = await runOnce(redisUrl, jobsPerTenant, 'plain');
  const fair = await runOnce(redisUrl, jobsPerTenant, 'fair');
  const controls = await runOnce(redisUrl, jobsPerTenant, 'controls');
  return { plain, fair, controls };
}
