// Scenario 1: worker processes SIGKILLed at random moments while jobs run. Stalled jobs are picked
// up again, every job completes, and the idempotent effect (HSETNX keyed by job id) happens once.
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

const JOBS = size(5000, 500);
const MAX_KILLS = size(20, 4);
const WORKERS = 3;
const PREFIX = 'crash';

let fault: FaultEnvironment;

beforeAll(async () => {
  fault = await faultEnvironment({ name: 'crash', prefix: PREFIX });
});

afterAll(async () => {
  await fault?.close();
  printSummaryIfComplete();
});

test(`${JOBS} jobs survive ${MAX_KILLS} SIGKILLed workers; every effect happens exactly once`, async () => {
  const started = Date.now();
  const { redis, definition, workers } = fault;
  // Workers first: on a loaded machine starting a worker process takes seconds, and jobs enqueued
  // before that were all done by the first worker before the kill loop began (kills 0).
  const env = fault.env({
    FAULT_CONCURRENCY: 5,
    FAULT_JOB_MS: 100,
    // Short locks so a killed worker's jobs are found stalled within seconds, not a minute.
    FAULT_LOCK_MS: 5000,
    FAULT_STALLED_MS: 2000,
  });
  const spawnWorker = () => fault.startWorker(env);
  for (let i = 0; i < WORKERS; i++) await spawnWorker();

  const ids: string[] = [];
  for (let from = 0; from < JOBS; from += 500) {
    const batch = Array.from({ length: Math.min(500, JOBS - from) }, (_, i) => from + i);
    const jobs = await definition.enqueueBulk(
      batch.map((n) => ({ tenantId: `tenant-${n % 50}`, n })),
      batch.map((n) => ({ jobId: `job-${n}` })),
    );
    ids.push(...jobs.map((job) => job.id!));
  }
  expect(ids).toHaveLength(JOBS);

  // Kill points drawn by progress, not time (5-80 % of the jobs done), so every size and machine
  // speed sees its kills while jobs run: time-drawn kills all came after a quick reduced run ended.
  const killPoints = Array.from({ length: MAX_KILLS }, () => Math.floor(JOBS * (0.05 + Math.random() * 0.75))).sort((a, b) => a - b);
  const progress = () => redis.hlen(`${PREFIX}:effects`);
  let kills = 0;
  try {
    while (kills < MAX_KILLS && (await progress()) < JOBS) {
      const point = killPoints[kills]!;
      await until(async () => (await progress()) >= point, FULL ? 600_000 : 150_000, async () => `progress ${await progress()} < ${point}`, 20);
      const alive = [...workers];
      const victim = alive[Math.floor(Math.random() * alive.length)]!;
      await victim.kill();
      workers.delete(victim);
      kills += 1;
      await spawnWorker();
    }
    await until(
      async () => ((await definition.queue.getJobCounts('completed')).completed ?? 0) + ((await definition.queue.getJobCounts('failed')).failed ?? 0) >= JOBS,
      FULL ? 600_000 : 150_000,
      async () => JSON.stringify(await definition.queue.getJobCounts()),
      500,
    );
  } finally {
    await killAll(workers);
  }

  const counts = await definition.queue.getJobCounts();
  const done = await effectIds(redis, PREFIX);
  const lost = missing(ids, done);
  const { runs, repeats } = await effectCounts(redis, PREFIX);
  const duplicates = await duplicateCompletions(redis, PREFIX);
  recordScenario({
    scenario: 'worker-crash',
    faults: kills,
    jobs: JOBS,
    lost: lost.length + (counts.failed ?? 0),
    duplicates,
    extra: {
      'handler runs': runs,
      'effect repeats refused': repeats,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      'effects applied': done.size,
    },
    passed: lost.length === 0 && counts.failed === 0 && counts.completed === JOBS && duplicates === 0,
    size: FULL ? 'full' : 'reduced',
    seconds: (Date.now() - started) / 1000,
  });
  expect(kills).toBeGreaterThan(0);
  expect(lost).toEqual([]);
  expect(counts.failed).toBe(0);
  expect(counts.completed).toBe(JOBS);
  // Exactly once: one effect per job id, and no job id completed twice.
  expect(done.size).toBe(JOBS);
  expect(duplicates).toBe(0);
});
