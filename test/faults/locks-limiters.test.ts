// Scenario 8: locks and limiters under faults. A process holding a plain lock (and waiting for it), an auto-extended
// withLock section, a semaphore lease, a concurrency lease and a queue job under its activity lock
// inside withRateLimit, with rate-limiter calls in flight, is SIGKILLed. Afterwards: no key without
// a TTL (BullMQ's own queue keys exempt, listed), every lock/lease comes free after its TTL (fences
// grow), and the interrupted job completes on another worker.
import { acquireLock, acquireSemaphore, activityLockHandler, type Lock, type SemaphoreLease } from '@platform/locks';
import { waitersKeyFor } from '../../packages/locks/src/keys';
import { createRedisConnection, createWorker, defineQueue, loadRedisConfig, type QueueDefinition } from '@platform/queue';
import { createConcurrencyLimiter, type Lease } from '@platform/ratelimit';
import { startRedisServer, type RedisServer } from '@platform/testing';
import type { Job, Worker } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { z } from 'zod';
import { FAULT_TEST_TIMEOUT_MS, FULL, closeAll, size, sleep, startFixture, until, type Fixture } from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const ROUNDS = size(3, 1);
const TTL_MS = 3000;
const QUEUE_PREFIX = 'faults__locks-';
/**
 * Keys allowed to have no TTL: BullMQ's own bookkeeping of the test queue (job id counter, meta,
 * event stream, wait/active/completed lists and sets, marker, and job hashes, which BullMQ expires
 * by its removeOnComplete/removeOnFail policy rather than a Redis TTL).
 */
const EXEMPT = new RegExp(`^bull:${QUEUE_PREFIX}r[0-9]+:(id|meta|events|wait|paused|active|prioritized|delayed|completed|failed|stalled|marker|pc|[0-9]+)$`);

let server: RedisServer;
let redis: RedisClient;
const lockJobSchema = z.object({ activityId: z.string() });
const definitions: QueueDefinition<typeof lockJobSchema>[] = [];
let config: ReturnType<typeof loadRedisConfig>;
const fixtures = new Set<Fixture>();
const workers: Worker[] = [];
const connections: RedisClient[] = [];

/** A connection this file closes in afterAll (queues and workers never close what they are given). */
function connection(role: 'producer' | 'worker'): RedisClient {
  const client = createRedisConnection(config, { role });
  connections.push(client);
  return client;
}

beforeAll(async () => {
  server = await startRedisServer();
  config = loadRedisConfig({ REDIS_URL: server.url });
  redis = createRedisConnection(config, { role: 'worker' });
});

afterAll(async () => {
  await closeAll({ fixtures, workers, definitions, clients: [redis, ...connections], servers: [server] });
  printSummaryIfComplete();
});

/** Every key with its PTTL; `violations` are keys without a TTL that are not exempt. */
async function scanTtls(): Promise<{ keys: number; violations: string[]; exempt: Set<string> }> {
  let cursor = '0';
  let keys = 0;
  const violations: string[] = [];
  const exempt = new Set<string>();
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys += 1;
      const pttl = await redis.pttl(key);
      if (pttl !== -1) continue;
      if (EXEMPT.test(key)) exempt.add(key.replace(/:[0-9]+$/, ':<jobId>').replace(/locks-r[0-9]+/, 'locks-r<n>'));
      else violations.push(key);
    }
  } while (cursor !== '0');
  return { keys, violations, exempt };
}

test(`${ROUNDS} lock holder(s) SIGKILLed mid-section and mid-call leave no key without a TTL`, async () => {
  const started = Date.now();
  const violationsAfterKill: string[] = [];
  const violationsAtEnd: string[] = [];
  const exempt = new Set<string>();
  let recovered = 0;
  let jobsDone = 0;

  const done = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    const prefix = `r${round}`;
    const activityId = `activity-${round}`;
    // One queue per round, so the rescuer of a round never takes the next round's job.
    const definition = defineQueue({ namespace: 'faults', name: `locks-${prefix}`, schema: lockJobSchema, connection: connection('producer') });
    definitions.push(definition);
    await definition.enqueue({ tenantId: 'tenant-1', activityId });
    const holder = await startFixture('lock-holder', { REDIS_URL: server.url, FAULT_PREFIX: prefix, FAULT_QUEUE: `locks-${prefix}`, FAULT_TTL_MS: String(TTL_MS) });
    fixtures.add(holder);
    await sleep(Math.random() * 200);
    await holder.kill();
    fixtures.delete(holder);

    const afterKill = await scanTtls();
    violationsAfterKill.push(...afterKill.violations);
    for (const e of afterKill.exempt) exempt.add(e);
    // The dead process was registered as waiting for its own plain lock: that key has a TTL too.
    expect(await redis.pttl(waitersKeyFor(`${prefix}:lock:plain`))).toBeGreaterThan(0);

    // Everything the dead process held comes free after its TTL.
    const oldFence = Number(holder.ready.fence);
    const plain: Lock | null = await acquireLock(redis, `${prefix}:lock:plain`, { ttlMs: 5000, waitMs: TTL_MS + 10_000 });
    const auto: Lock | null = await acquireLock(redis, `${prefix}:lock:auto`, { ttlMs: 5000, waitMs: TTL_MS + 10_000 });
    const leases: (SemaphoreLease | null)[] = [];
    for (let i = 0; i < 2; i++) leases.push(await acquireSemaphore(redis, `${prefix}:semaphore`, { limit: 2, ttlMs: 5000, waitMs: TTL_MS + 10_000 }));
    const concurrency = createConcurrencyLimiter({ redis, provider: 'crawler', maxInFlight: 2, leaseMs: 5000 });
    const slots: Lease[] = [];
    await until(async () => {
      const result = await concurrency.acquire('tenant-1');
      if (result.acquired) slots.push(result.lease);
      return slots.length >= 2;
    }, TTL_MS + 10_000, () => `concurrency slots: ${slots.length}/2`);
    expect(plain).not.toBeNull();
    expect(plain!.fence).toBeGreaterThan(oldFence);
    expect(auto).not.toBeNull();
    expect(leases.every((l) => l !== null)).toBe(true);
    recovered += 1;
    await Promise.all([plain!.release(), auto!.release(), ...leases.map((l) => l!.release()), ...slots.map((s) => s.release())]);

    // The interrupted job is found stalled and completes under the same activity lock elsewhere.
    const rescuer = createWorker(
      definition,
      activityLockHandler(redis, (job: Job<{ tenantId: string; activityId: string }>) => job.data.activityId, async (job) => {
        done.add(job.data.activityId);
      }, { ttlMs: TTL_MS }),
      { connection: connection('worker'), lockDuration: 5000, stalledInterval: 2000, handleSignals: false },
    );
    workers.push(rescuer);
    await until(async () => done.has(activityId), 120_000, async () => `job of ${activityId} not done: ${JSON.stringify(await definition.queue.getJobCounts())}`, 500);
    await rescuer.close();
    jobsDone += 1;

    const atEnd = await scanTtls();
    violationsAtEnd.push(...atEnd.violations);
    for (const e of atEnd.exempt) exempt.add(e);
  }

  const violations = [...new Set([...violationsAfterKill, ...violationsAtEnd])];
  recordScenario({
    scenario: 'locks-limiters',
    faults: ROUNDS,
    jobs: jobsDone,
    lost: ROUNDS - jobsDone,
    duplicates: 0,
    extra: {
      'keys without TTL': violations.length,
      'locks and leases recovered after TTL': `${recovered}/${ROUNDS}`,
      'exempt (BullMQ)': [...exempt].sort().join(' ') || 'none',
    },
    passed: violations.length === 0 && recovered === ROUNDS && jobsDone === ROUNDS,
    size: FULL ? 'full' : 'reduced',
    seconds: (Date.now() - started) / 1000,
  });
  expect(violations).toEqual([]);
  expect(recovered).toBe(ROUNDS);
  expect(jobsDone).toBe(ROUNDS);
});
