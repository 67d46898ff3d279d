// Scenario 2: Redis killed with SIGKILL and restarted from its AOF under load, with
// `appendfsync always` (every acknowledged enqueue must be processed after the restart) and
// `everysec` (what it loses is measured and reported, not asserted).
import { PlatformError } from '@platform/redis';
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
  sleep,
  untilStable,
  type FaultEnvironment,
} from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const RESTARTS = size(3, 1);
const LOAD_MS = size(4000, 1500);
const PRODUCERS = 4;
const PREFIX = 'aof';

// One environment (its own redis-server) per fsync mode.
const environments: FaultEnvironment[] = [];

afterAll(async () => {
  await Promise.all(environments.map((fault) => fault.close()));
  printSummaryIfComplete();
});

async function runScenario(fsync: 'always' | 'everysec') {
  const started = Date.now();
  const fault = await faultEnvironment({
    name: `aof-${fsync}`,
    prefix: PREFIX,
    serverArgs: ['--appendonly', 'yes', '--appendfsync', fsync],
    queueOptions: { enqueueTimeoutMs: 2000, onError: () => {} },
  });
  environments.push(fault);
  const { server, redis, definition } = fault;
  const env = fault.env({
    FAULT_CONCURRENCY: 5,
    FAULT_JOB_MS: 20,
    FAULT_LOCK_MS: 5000,
    FAULT_STALLED_MS: 2000,
  });
  for (let i = 0; i < 2; i++) await fault.startWorker(env);

  const acked = new Set<string>();
  const ackedBeforeKill = new Set<string>();
  const refused = new Set<string>();
  const untyped: string[] = [];
  let next = 0;
  let producing = true;
  const produce = async () => {
    while (producing) {
      const id = `job-${next++}`;
      try {
        await definition.enqueue({ tenantId: `tenant-${next % 20}`, n: next }, { jobId: id });
        acked.add(id);
      } catch (error) {
        refused.add(id);
        if (!(error instanceof PlatformError)) untyped.push(String(error));
        await sleep(100);
      }
    }
  };
  const loops = Array.from({ length: PRODUCERS }, () => produce());
  try {
    for (let restart = 0; restart < RESTARTS; restart++) {
      await sleep(LOAD_MS);
      for (const id of acked) ackedBeforeKill.add(id);
      await server.kill();
      await sleep(1000);
      await server.restart();
    }
    await sleep(LOAD_MS);
  } finally {
    producing = false;
    await Promise.all(loops);
  }

  // Drain: wait until every acknowledged job has its effect, or nothing moves for 10 s.
  const effectsCount = () => redis.hlen(`${PREFIX}:effects`);
  await untilStable(effectsCount, 10_000, FULL ? 300_000 : 120_000, async () => missing(acked, await effectIds(redis, PREFIX)).length === 0);
  await killAll(fault.workers);

  const done = await effectIds(redis, PREFIX);
  const lostAcked = missing(acked, done);
  const lostBeforeKill = missing(ackedBeforeKill, done);
  const refusedButDone = [...refused].filter((id) => done.has(id)).length;
  const duplicates = await duplicateCompletions(redis, PREFIX);
  const { runs, repeats } = await effectCounts(redis, PREFIX);
  const counts = await definition.queue.getJobCounts();
  await definition.close();
  const result = {
    scenario: fsync === 'always' ? ('redis-restart-aof-always' as const) : ('redis-restart-aof-everysec' as const),
    faults: RESTARTS,
    jobs: acked.size,
    lost: lostAcked.length,
    duplicates,
    extra: {
      'acked before kill': ackedBeforeKill.size,
      'lost of those': lostBeforeKill.length,
      'refused (typed error)': refused.size - untyped.length,
      'untyped errors': untyped.length,
      'refused yet processed': refusedButDone,
      'handler runs': runs,
      'effect repeats refused': repeats,
      failed: counts.failed ?? 0,
    },
    passed: fsync === 'everysec' ? duplicates === 0 : lostAcked.length === 0 && duplicates === 0 && (counts.failed ?? 0) === 0,
    size: FULL ? ('full' as const) : ('reduced' as const),
    seconds: (Date.now() - started) / 1000,
  };
  recordScenario(result);
  return { lostAcked, lostBeforeKill, duplicates, counts, acked, refused, untyped };
}

test('appendfsync always: every enqueue acknowledged before a kill -9 is processed after the restart', async () => {
  const { lostAcked, lostBeforeKill, duplicates, counts, acked, refused, untyped } = await runScenario('always');
  expect(acked.size).toBeGreaterThan(0);
  expect(untyped).toEqual([]);
  // The outage was real: some enqueues were refused with the typed error while Redis was down.
  expect(refused.size).toBeGreaterThan(0);
  expect(lostBeforeKill).toEqual([]);
  expect(lostAcked).toEqual([]);
  expect(counts.failed ?? 0).toBe(0);
  expect(duplicates).toBe(0);
});

test('appendfsync everysec: the loss after a kill -9 is measured and reported', async () => {
  const { acked, duplicates } = await runScenario('everysec');
  expect(acked.size).toBeGreaterThan(0);
  expect(duplicates).toBe(0);
});
