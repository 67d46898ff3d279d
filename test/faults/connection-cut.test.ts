// Scenario 3: a TCP proxy between every client and Redis drops all connections a few times.
// Workers reconnect and finish; while the proxy is down a producer gets QueueUnavailableError
// within the fail-fast bound (enqueueTimeoutMs), and enqueues succeed again once it is back.
import { QueueUnavailableError } from '@platform/queue';
import { findFreePort } from '@platform/testing';
import {
  CutProxy,
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
  until,
  type FaultEnvironment,
} from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const CUTS = size(6, 3);
const INITIAL_JOBS = size(2000, 300);
const BATCH_AFTER_CUT = 50;
const ENQUEUE_TIMEOUT_MS = 5000;
// The fail-fast bound: enqueueTimeoutMs plus scheduling slack on a shared 2-core machine.
const FAIL_FAST_BOUND_MS = ENQUEUE_TIMEOUT_MS + 2000;
const PREFIX = 'cut';

let fault: FaultEnvironment;
let proxy: CutProxy;

beforeAll(async () => {
  // The producer and the worker fixtures reach Redis through the proxy; fault.redis reads directly.
  fault = await faultEnvironment({
    name: 'cut',
    prefix: PREFIX,
    queueOptions: { enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS, onError: () => {} },
    clientUrl: async (server) => {
      proxy = await CutProxy.start(await findFreePort(), server.port);
      return `redis://127.0.0.1:${proxy.port}`;
    },
  });
});

afterAll(async () => {
  await proxy?.close();
  await fault?.close();
  printSummaryIfComplete();
});

test(`workers and producers survive ${CUTS} cuts of every connection`, async () => {
  const started = Date.now();
  const { redis: direct, definition, workers } = fault;
  const acked: string[] = [];
  let n = 0;
  const enqueueBatch = async (count: number) => {
    const batch = Array.from({ length: count }, () => n++);
    const jobs = await definition.enqueueBulk(
      batch.map((i) => ({ tenantId: `tenant-${i % 30}`, n: i })),
      batch.map((i) => ({ jobId: `job-${i}` })),
    );
    acked.push(...jobs.map((job) => job.id!));
  };
  await enqueueBatch(INITIAL_JOBS);

  const env = fault.env({
    FAULT_CONCURRENCY: 5,
    FAULT_JOB_MS: 40,
    FAULT_LOCK_MS: 5000,
    FAULT_STALLED_MS: 2000,
  });
  for (let i = 0; i < 2; i++) await fault.startWorker(env);

  const refusals: { ms: number; typed: boolean; message: string }[] = [];
  try {
    for (let cut = 0; cut < CUTS; cut++) {
      await sleep(1000 + Math.random() * 1000);
      await proxy.cut();
      const downSince = Date.now();
      const t0 = Date.now();
      try {
        await definition.enqueue({ tenantId: 'tenant-down', n: -1 }, { jobId: `down-${cut}` });
        refusals.push({ ms: Date.now() - t0, typed: false, message: 'enqueue succeeded while Redis was unreachable' });
      } catch (error) {
        refusals.push({ ms: Date.now() - t0, typed: error instanceof QueueUnavailableError, message: String(error) });
      }
      await sleep(Math.max(0, 2000 - (Date.now() - downSince)));
      await proxy.restore();
      await sleep(500);
      await enqueueBatch(BATCH_AFTER_CUT);
    }
    await until(
      async () => missing(acked, await effectIds(direct, PREFIX)).length === 0,
      FULL ? 300_000 : 120_000,
      async () => `missing ${missing(acked, await effectIds(direct, PREFIX)).length} of ${acked.length}; ${JSON.stringify(await definition.queue.getJobCounts())}`,
      500,
    );
  } finally {
    await killAll(workers);
  }

  const done = await effectIds(direct, PREFIX);
  const lost = missing(acked, done);
  const duplicates = await duplicateCompletions(direct, PREFIX);
  const { runs, repeats } = await effectCounts(direct, PREFIX);
  const slowest = Math.max(...refusals.map((r) => r.ms));
  const typed = refusals.filter((r) => r.typed).length;
  recordScenario({
    scenario: 'connection-cut',
    faults: proxy.cuts,
    jobs: acked.length,
    lost: lost.length,
    duplicates,
    extra: {
      'refusals while down': `${typed}/${refusals.length} QueueUnavailableError`,
      'slowest refusal ms': slowest,
      'fail-fast bound ms': FAIL_FAST_BOUND_MS,
      'handler runs': runs,
      'effect repeats refused': repeats,
    },
    passed: lost.length === 0 && duplicates === 0 && typed === refusals.length && slowest <= FAIL_FAST_BOUND_MS,
    size: FULL ? 'full' : 'reduced',
    seconds: (Date.now() - started) / 1000,
  });
  expect(refusals.filter((r) => !r.typed)).toEqual([]);
  expect(slowest).toBeLessThanOrEqual(FAIL_FAST_BOUND_MS);
  expect(lost).toEqual([]);
  expect(duplicates).toBe(0);
});
