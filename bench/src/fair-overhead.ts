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
import { uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { endQueueRun, type RunFigures } from './measure';

export type FairOverheadMode = 'plain' | 'fair' | 'controls';

/** Result of {@link runFairOverhead}: jobs/s of each mode. */
export type FairOverheadResult = Record<FairOverheadMode, number>;

export const FAIR_OVERHEAD_TENANTS = 20;
export const FAIR_OVERHEAD_CONCURRENCY = 16;
export const FAIR_OVERHEAD_JOB_MS = 2;

const schema = z.object({ documentId: z.string() });

export type { RunFigures } from './measure';

function cpuSince(start: NodeJS.CpuUsage, jobs: number): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / jobs;
}

/** One run of the uniform scenario in one mode. */
export async function runFairOverheadOnce(redisUrl: string, jobsPerTenant: number, mode: FairOverheadMode): Promise<RunFigures> {
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
  let cpuStart = process.cpuUsage();
  try {
    await worker.waitUntilReady();
    if (mode === 'controls') {
      await pauseTenant(definition, 'paused-one', { actor: 'bench' });
      for (const tenantId of tenants.slice(0, 10)) await setTenantLimits(definition, tenantId, { weight: 2 }, { actor: 'bench' });
      await definition.enqueueBulk(Array.from({ length: jobsPerTenant }, (_, k) => ({ tenantId: 'paused-one', documentId: `p-${k}` })));
    }
    cpuStart = process.cpuUsage();
    // Interleaved batches of 100 jobs, 5 per tenant.
    for (let k = 0; k < jobsPerTenant; k += 5) {
      const batch = tenants.flatMap((tenantId) =>
        Array.from({ length: Math.min(5, jobsPerTenant - k) }, (_, j) => ({ tenantId, documentId: `${tenantId}-${k + j}` })),
      );
      await definition.enqueueBulk(batch);
    }
    await allDone;
    return { jobsPerSecond: (total * 1000) / Math.max(lastEnd - firstStart, 1), cpuUsPerJob: cpuSince(cpuStart, total) };
  } finally {
    await producer.del(pool.key);
    await endQueueRun({ workers: [worker], definitions: [definition], producer, connections: [producer, workerConnection], prefix });
  }
}

/** Runs plain, fair and fair with controls once each (in that order) on the same Redis. */
export async function runFairOverhead({ redisUrl, quick = false }: { redisUrl: string; quick?: boolean }): Promise<FairOverheadResult> {
  const jobsPerTenant = quick ? 25 : 250;
  const plain = (await runFairOverheadOnce(redisUrl, jobsPerTenant, 'plain')).jobsPerSecond;
  const fair = (await runFairOverheadOnce(redisUrl, jobsPerTenant, 'fair')).jobsPerSecond;
  const controls = (await runFairOverheadOnce(redisUrl, jobsPerTenant, 'controls')).jobsPerSecond;
  return { plain, fair, controls };
}

/** Tenant counts of the scale scenario (issue: fair >= 0.9x plain at each). */
export const FAIR_SCALE_TENANTS = [10, 1000, 10_000] as const;
export const FAIR_SCALE_CONCURRENCY = 50;

/**
 * The scheduler's overhead at scale, as the queue section's end-to-end figure: `jobs` no-op jobs of
 * `tenants` uniform tenants (job i belongs to tenant i mod tenants) queued beforehand in batches of
 * 1,000, then one worker of concurrency 50, timed from `run()` to the last completion. Plain queue
 * and `fairness: 'per-tenant'` (defaults) on the same Redis, in the given order.
 */
export async function runFairScaleOnce(options: { redisUrl: string; tenants: number; jobs: number; fair: boolean }): Promise<RunFigures> {
  const { tenants, jobs, fair } = options;
  const run = scaleRun(options.redisUrl, `bench-fs-${fair ? 'fair' : 'plain'}`, jobs, fair);
  try {
    await run.fill(tenants);
    const started = Date.now();
    const cpuStart = process.cpuUsage();
    void run.worker.run().catch(() => undefined);
    await run.allDone;
    return { jobsPerSecond: (jobs * 1000) / Math.max(Date.now() - started, 1), cpuUsPerJob: cpuSince(cpuStart, jobs) };
  } finally {
    await run.end();
  }
}

/**
 * The queue, worker (concurrency {@link FAIR_SCALE_CONCURRENCY}, a no-op handler that counts) and
 * connections of one scale run, plain or `fairness: 'per-tenant'`; `fill` enqueues the jobs over
 * `tenants` tenants in batches of 1,000 (with `opts`, e.g. a delay).
 */
function scaleRun(redisUrl: string, label: string, jobs: number, fair: boolean) {
  const config = loadRedisConfig({ REDIS_URL: redisUrl });
  const producer = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const prefix = uniquePrefix(label);
  const definition = defineQueue({
    namespace: 'bench',
    name: 'scale',
    schema,
    prefix,
    connection: producer,
    ...(fair ? { fairness: 'per-tenant' as const } : {}),
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const worker = createWorker(
    definition,
    async () => {
      if (++done === jobs) finished();
    },
    { connection: workerConnection, concurrency: FAIR_SCALE_CONCURRENCY, handleSignals: false, autorun: false },
  );
  return {
    definition,
    producer,
    worker,
    allDone,
    async fill(tenants: number, opts?: { delay: number }): Promise<void> {
      for (let start = 0; start < jobs; start += 1000) {
        await definition.enqueueBulk(
          Array.from({ length: Math.min(1000, jobs - start) }, (_, k) => ({ tenantId: `t${(start + k) % tenants}`, documentId: `d${start + k}` })),
          opts,
        );
      }
    },
    end: () => endQueueRun({ workers: [worker], definitions: [definition], producer, connections: [producer, workerConnection], prefix }),
  };
}

/**
 * The release step of the "no second add" design, alone: Lua that moves up to `window - waiting`
 * held jobs (BullMQ delayed jobs, far in the future) into the wait list, as BullMQ's `promote`
 * does for one job: no job data through Node at hand-out.
 */
const HELD_RELEASE_LUA = `
local room = tonumber(ARGV[2]) - redis.call('LLEN', KEYS[2]) - redis.call('ZCARD', KEYS[5])
if room <= 0 then return 0 end
local popped = redis.call('ZPOPMIN', KEYS[1], room)
for i = 1, #popped, 2 do
  local id = popped[i]
  redis.call('LPUSH', KEYS[2], id)
  redis.call('XADD', KEYS[3], '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
  redis.call('HSET', ARGV[1] .. id, 'delay', 0)
end
if #popped > 0 then redis.call('ZADD', KEYS[4], 0, '0') end
return #popped / 2`;

/**
 * The ceiling of "no second add" (a measurement device, not a scheduler: no tenants, no stride, no
 * limits): the scale scenario's jobs enter BullMQ before the clock as held jobs (delayed 10^11 ms),
 * and in the timed window one Lua call per step releases up to the room into the wait list, with
 * the fair scheduler's triggers (a step per quarter window of starts, on `drained`, every 200 ms,
 * single-flight). `windowFactor` sizes the window against the worker's concurrency (the fair
 * default is 2 since jobs are held in BullMQ; it was 1). Compare with `runFairScaleOnce({ fair: false })`.
 */
export async function runHeldReleaseOnce(options: { redisUrl: string; tenants: number; jobs: number; windowFactor: number }): Promise<RunFigures> {
  const { tenants, jobs, windowFactor } = options;
  const { definition, producer, worker, allDone, fill, end } = scaleRun(options.redisUrl, 'bench-held', jobs, false);
  const window = Math.max(1, Math.round(FAIR_SCALE_CONCURRENCY * windowFactor));
  let timer: NodeJS.Timeout | undefined;
  try {
    await fill(tenants, { delay: 1e11 });
    const k = definition.queue.keys;
    const keys = [k.delayed, k.wait, k.events, k.marker, k.prioritized].map((key) => key ?? '');
    const jobKeyPrefix = k[''] ?? '';
    let running: Promise<void> | undefined;
    let again = false;
    const pump = (): void => {
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          await producer.eval(HELD_RELEASE_LUA, keys.length, ...keys, jobKeyPrefix, window);
        } while (again);
      })()
        .catch(() => undefined)
        .finally(() => (running = undefined));
    };
    let started = 0;
    worker.on('active', () => {
      if (++started < Math.max(1, Math.floor(window / 4))) return;
      started = 0;
      pump();
    });
    worker.on('drained', pump);
    timer = setInterval(pump, 200);
    const startedAt = Date.now();
    const cpuStart = process.cpuUsage();
    void worker.run().catch(() => undefined);
    pump();
    await allDone;
    return { jobsPerSecond: (jobs * 1000) / Math.max(Date.now() - startedAt, 1), cpuUsPerJob: cpuSince(cpuStart, jobs) };
  } finally {
    clearInterval(timer);
    await end();
  }
}
