// Scenario 3: a TCP proxy between every client and Redis drops all connections a few times.
// Workers reconnect and finish; while the proxy is down a producer gets QueueUnavailableError
// within the fail-fast bound (enqueueTimeoutMs), and enqueues succeed again once it is back.
import { QueueUnavailableError, createRedisConnection, defineQueue, loadRedisConfig, type QueueDefinition } from '@platform/queue';
import { closeConnection } from '@platform/redis';
import { findFreePort, startRedisServer, type RedisServer } from '@platform/testing';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  CutProxy,
  FAULT_TEST_TIMEOUT_MS,
  FULL,
  duplicateCompletions,
  effectCounts,
  effectIds,
  killAll,
  missing,
  size,
  sleep,
  startFixture,
  until,
  workerEnv,
  type Fixture,
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

let server: RedisServer;
let proxy: CutProxy;
let direct: Redis;
let producer: Redis;
let definition: QueueDefinition;
const workers = new Set<Fixture>();

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await CutProxy.start(await findFreePort(), server.port);
  direct = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'worker' });
  producer = createRedisConnection(loadRedisConfig({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }), { role: 'producer' });
  definition = defineQueue({
    namespace: 'faults',
    name: 'cut',
    schema: z.object({ n: z.number().int() }),
    connection: producer,
    enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS,
    onError: () => {},
  });
});

afterAll(async () => {
  await killAll(workers);
  await proxy?.close();
  await definition?.close().catch(() => {});
  if (producer) await closeConnection(producer);
  if (direct) await closeConnection(direct);
  await server?.stop();
  printSummaryIfComplete();
});

test(`workers and producers survive ${CUTS} cuts of every connection`, async () => {
  const started = Date.now();
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

  const env = workerEnv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, PREFIX, 'cut', {
    FAULT_CONCURRENCY: 5,
    FAULT_JOB_MS: 40,
    FAULT_LOCK_MS: 5000,
    FAULT_STALLED_MS: 2000,
  });
  for (let i = 0; i < 2; i++) workers.add(await startFixture('worker', env));

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
    workers.clear();
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
