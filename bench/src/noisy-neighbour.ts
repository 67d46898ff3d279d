/**
 * Noisy neighbour: tenant A enqueues 10,000 jobs (quick: 1,000), then tenants B..K enqueue 10 each,
 * on one queue served by one worker pool. Measures the p95 wait (enqueue to start) of B..K's jobs
 * and the total throughput, under plain FIFO and with `fairness: 'per-tenant'`, on the same Redis.
 */
import { createRedisConnection, createWorker, defineQueue, loadRedisConfig } from '@platform/queue';
import { uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { endQueueRun } from './measure';

/** Result of {@link runNoisyNeighbour}; ratios are fair / FIFO. */
export interface NoisyNeighbourResult {
  fifoP95WaitMs: number;
  fairP95WaitMs: number;
  /** fairP95WaitMs / fifoP95WaitMs (target <= 0.05). */
  ratioP95: number;
  /** Jobs per second, all tenants. */
  fifoThroughput: number;
  fairThroughput: number;
  /** fairThroughput / fifoThroughput (target >= 0.9). */
  throughputRatio: number;
}

/** Options of {@link runNoisyNeighbour}. */
export interface NoisyNeighbourOptions {
  redisUrl: string;
  /** 1,000 jobs for tenant A instead of 10,000. @defaultValue `false` */
  quick?: boolean;
}

/** Worker pool: one worker, this many jobs at once. */
export const NOISY_NEIGHBOUR_CONCURRENCY = 16;
/** Simulated work per job (an awaited I/O of this many ms). */
export const NOISY_NEIGHBOUR_JOB_MS = 2;
/** Fair window: released-but-not-started jobs, twice the pool's concurrency. */
export const NOISY_NEIGHBOUR_WINDOW = 2 * NOISY_NEIGHBOUR_CONCURRENCY;

const SMALL_TENANTS = ['B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K'];
const SMALL_JOBS = 10;

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? 0;
}

/** The payload of the rag__ingestion catalog queue, without tenantId. */
const documentSchema = z.object({ documentId: z.string(), source: z.string() });

async function runOnce(redisUrl: string, bigJobs: number, fair: boolean): Promise<{ p95WaitMs: number; throughput: number }> {
  const config = loadRedisConfig({ REDIS_URL: redisUrl });
  const producer = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const prefix = uniquePrefix(fair ? 'bench-nn-fair' : 'bench-nn-fifo');
  const definition = defineQueue({
    namespace: 'bench',
    name: 'noisy',
    schema: documentSchema,
    prefix,
    connection: producer,
    ...(fair ? { fairness: { window: NOISY_NEIGHBOUR_WINDOW } } : {}),
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const total = bigJobs + SMALL_TENANTS.length * SMALL_JOBS;
  const smallWaits: number[] = [];
  let done = 0;
  let firstStart = 0;
  let lastEnd = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const worker = createWorker(
    definition,
    async (job, { tenantId }) => {
      const startedAt = Date.now();
      if (firstStart === 0) firstStart = startedAt;
      if (tenantId !== 'A') smallWaits.push(startedAt - job.timestamp);
      await new Promise((resolve) => setTimeout(resolve, NOISY_NEIGHBOUR_JOB_MS));
      lastEnd = Date.now();
      if (++done === total) finished();
    },
    { connection: workerConnection, concurrency: NOISY_NEIGHBOUR_CONCURRENCY, handleSignals: false },
  );
  try {
    await worker.waitUntilReady();
    for (let i = 0; i < bigJobs; i += 1000) {
      const n = Math.min(1000, bigJobs - i);
      await definition.enqueueBulk(Array.from({ length: n }, (_, k) => ({ tenantId: 'A', documentId: `a-${i + k}`, source: 'bench' })));
    }
    for (const tenantId of SMALL_TENANTS) {
      for (let k = 0; k < SMALL_JOBS; k++) await definition.enqueue({ tenantId, documentId: `${tenantId}-${k}`, source: 'bench' });
    }
    await allDone;
  } finally {
    await endQueueRun({ workers: [worker], definitions: [definition], producer, connections: [producer, workerConnection], prefix });
  }
  return { p95WaitMs: p95(smallWaits), throughput: (total * 1000) / Math.max(lastEnd - firstStart, 1) };
}

/** Runs the noisy-neighbour scenario under FIFO, then with fairness, and returns both with their ratios. */
export async function runNoisyNeighbour({ redisUrl, quick = false }: NoisyNeighbourOptions): Promise<NoisyNeighbourResult> {
  const bigJobs = quick ? 1000 : 10_000;
  const fifo = await runOnce(redisUrl, bigJobs, false);
  const fairRun = await runOnce(redisUrl, bigJobs, true);
  return {
    fifoP95WaitMs: fifo.p95WaitMs,
    fairP95WaitMs: fairRun.p95WaitMs,
    ratioP95: fairRun.p95WaitMs / Math.max(fifo.p95WaitMs, 1),
    fifoThroughput: fifo.throughput,
    fairThroughput: fairRun.throughput,
    throughputRatio: fairRun.throughput / fifo.throughput,
  };
}
