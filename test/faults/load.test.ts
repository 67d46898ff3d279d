// Scenario 6: N jobs across 1,000 tenants, four worker processes; the counts reconcile:
// enqueued = completed, per tenant too, duplicates 0, lost 0.
import {
  FAULT_TEST_TIMEOUT_MS,
  FULL,
  duplicateCompletions,
  effectCounts,
  effectIds,
  faultEnvironment,
  killAll,
  missing,
  size,
  until,
  type FaultEnvironment,
} from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const JOBS = size(100_000, 5000);
const TENANTS = 1000;
const WORKERS = 4;
const BULK = 1000;
const PREFIX = 'load';

let fault: FaultEnvironment;

beforeAll(async () => {
  fault = await faultEnvironment({ name: 'load', prefix: PREFIX, queueOptions: { enqueueTimeoutMs: 30_000 } });
});

afterAll(async () => {
  await fault?.close();
  printSummaryIfComplete();
});

test(`${JOBS} jobs across ${TENANTS} tenants and ${WORKERS} worker processes reconcile`, async () => {
  const started = Date.now();
  const { redis, definition, workers } = fault;
  const env = fault.env({ FAULT_CONCURRENCY: 20 });
  for (let i = 0; i < WORKERS; i++) await fault.startWorker(env);

  const ids: string[] = [];
  const perTenant = new Map<string, number>();
  try {
    for (let from = 0; from < JOBS; from += BULK) {
      const batch = Array.from({ length: Math.min(BULK, JOBS - from) }, (_, i) => from + i);
      const payloads = batch.map((n) => ({ tenantId: `tenant-${n % TENANTS}`, n }));
      const jobs = await definition.enqueueBulk(payloads, batch.map((n) => ({ jobId: `job-${n}` })));
      ids.push(...jobs.map((job) => job.id!));
      for (const p of payloads) perTenant.set(p.tenantId, (perTenant.get(p.tenantId) ?? 0) + 1);
    }
    await until(
      async () => (await redis.hlen(`${PREFIX}:effects`)) >= JOBS && (await definition.queue.getJobCounts('completed')).completed! >= JOBS,
      FULL ? 800_000 : 150_000,
      async () => JSON.stringify(await definition.queue.getJobCounts()),
      1000,
    );
  } finally {
    await killAll(workers);
  }

  const counts = await definition.queue.getJobCounts();
  const done = await effectIds(redis, PREFIX);
  const lost = missing(ids, done);
  const duplicates = await duplicateCompletions(redis, PREFIX);
  const { runs, repeats } = await effectCounts(redis, PREFIX);
  const tenantCounts = await redis.hgetall(`${PREFIX}:tenants`);
  const tenantMismatches = [...perTenant].filter(([tenant, n]) => Number(tenantCounts[tenant] ?? 0) !== n).length;
  const seconds = (Date.now() - started) / 1000;
  recordScenario({
    scenario: 'load',
    faults: 0,
    jobs: ids.length,
    lost: lost.length,
    duplicates: duplicates + repeats,
    extra: {
      tenants: perTenant.size,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      'handler runs': runs,
      'tenant mismatches': tenantMismatches,
      'jobs/s': Math.round(ids.length / seconds),
    },
    passed: lost.length === 0 && duplicates + repeats === 0 && counts.completed === JOBS && tenantMismatches === 0,
    size: FULL ? 'full' : 'reduced',
    seconds,
  });
  expect(ids).toHaveLength(JOBS);
  expect(perTenant.size).toBe(TENANTS);
  expect(counts.completed).toBe(JOBS);
  expect(counts.failed).toBe(0);
  expect(lost).toEqual([]);
  expect(duplicates).toBe(0);
  expect(repeats).toBe(0);
  expect(runs).toBe(JOBS);
  expect(tenantMismatches).toBe(0);
});
