import { createRedisConnection, DeferJobError, loadRedisConfig } from '@platform/redis';
import { keysMatching, uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { attemptIncrements, bucketOf, jobStats, JOB_STATS_BUCKETS, JOB_STATS_SLOT_MS, createStatsRecorder, recordScript, type readJobStats, type TenantJobStats } from './job-stats';
import { createWorker } from './worker';
import { fairSchedulerOf } from './fairness/scheduler';
import { useQueueTestContext } from './test-support';

const { redis, workerConnection, prefixes } = useQueueTestContext();


function sum(slots: Awaited<ReturnType<typeof readJobStats>>, tenantId: string): Omit<TenantJobStats, 'wait' | 'run'> & { waited: number; ran: number } {
  const total = { enqueued: 0, completed: 0, failed: 0, failedAttempts: 0, deferred: {} as Record<string, number>, waited: 0, ran: 0 };
  for (const slot of slots) {
    const t = slot.tenants.get(tenantId);
    if (!t) continue;
    total.enqueued += t.enqueued;
    total.completed += t.completed;
    total.failed += t.failed;
    total.failedAttempts += t.failedAttempts;
    for (const [reason, n] of Object.entries(t.deferred)) total.deferred[reason] = (total.deferred[reason] ?? 0) + n;
    total.waited += t.wait.buckets.reduce((a, b) => a + b, 0);
    total.ran += t.run.buckets.reduce((a, b) => a + b, 0);
  }
  return total;
}

describe('job stats recorded by producers and createWorker (no extra call)', () => {
  it('counts enqueued, completed, failed for good, failed attempts and deferrals by reason, per tenant', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    const q = defineQueue({ namespace: 'agent', name: 'stats', schema: z.object({ kind: z.string() }), prefix, connection: redis, defaultJobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 10 } } });
    const deferredOnce = new Set<string>();
    const worker = createWorker(q, async (job) => {
      if (job.data.kind === 'fail') throw new Error('always');
      if (job.data.kind === 'defer' && !deferredOnce.has(job.id!)) {
        deferredOnce.add(job.id!);
        throw new DeferJobError(10, 'rate-limit');
      }
    }, { connection: workerConnection, handleSignals: false, concurrency: 4 });
    await q.enqueueBulk([
      { tenantId: 'acme', kind: 'ok' },
      { tenantId: 'acme', kind: 'ok' },
      { tenantId: 'acme', kind: 'defer' },
      { tenantId: 'globex', kind: 'fail' },
    ]);
    await q.enqueue({ tenantId: 'globex', kind: 'ok' });
    await waitFor(async () => (await q.queue.getCompletedCount()) === 4 && (await q.queue.getFailedCount()) === 1, 20_000);
    await worker.close();

    let acme: ReturnType<typeof sum> | undefined;
    let globex: ReturnType<typeof sum> | undefined;
    // Recording is not awaited by the job path: wait for the last increments to land.
    await waitFor(async () => {
      const slots = await jobStats.read(redis, q.name, { prefix: q.settings.prefix });
      acme = sum(slots, 'acme');
      globex = sum(slots, 'globex');
      return acme.completed === 3 && globex.failed === 1 && globex.completed === 1 && acme.enqueued === 3 && globex.enqueued === 2;
    });
    expect(acme).toEqual({ enqueued: 3, completed: 3, failed: 0, failedAttempts: 0, deferred: { 'rate-limit': 1 }, waited: 3, ran: 3 });
    // One job failed twice (2 attempts): 2 failed attempts, 1 failed for good; wait is counted once per job.
    expect(globex).toEqual({ enqueued: 2, completed: 1, failed: 1, failedAttempts: 2, deferred: {}, waited: 2, ran: 3 });

    const keys = await keysMatching(redis, `${q.settings.prefix}:${q.name}:stats:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual((jobStats.retentionSlots + 1) * JOB_STATS_SLOT_MS);
    }
    await q.close();
  });

  it('a fair job held in the backlog counts its time there as waiting, and its handler sees the options it was enqueued with (not the hold)', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    const q = defineQueue({ namespace: 'agent', name: 'fairstats', schema: z.object({ kind: z.string() }), prefix, connection: redis, fairness: { window: 1 } });
    // Another tenant's job fills the window: acme's stays held (pending) for 400 ms, until a worker runs.
    await q.enqueue({ tenantId: 'first', kind: 'ok' });
    await fairSchedulerOf(q)!.idle();
    const job = await q.enqueue({ tenantId: 'acme', kind: 'ok' });
    expect(await job.getState()).toBe('pending');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await q.getJob(job.id!))!.opts.delay).toBeUndefined();
    const seen: Array<number | undefined> = [];
    const worker = createWorker(q, async (j) => void seen.push(j.opts.delay), { connection: workerConnection, handleSignals: false });
    let acme: TenantJobStats | undefined;
    await waitFor(async () => {
      const slots = await jobStats.read(redis, q.name, { prefix: q.settings.prefix });
      acme = slots.map((slot) => slot.tenants.get('acme')).find((t) => t && t.completed === 1);
      return acme !== undefined;
    }, 10_000);
    await worker.close();
    expect(seen).toEqual([undefined, undefined]);
    expect(acme!.wait.sumMs).toBeGreaterThanOrEqual(400);
    expect(acme!.wait.sumMs).toBeLessThan(60_000);
    await q.close();
  });

  it('a recorder writes the first increment of a slot at once, then buffers until its flush: 200 events, two script calls', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    let statsCalls = 0;
    // The real connection, with the stats script's calls counted.
    const counted = new Proxy(redis, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        if (property !== 'evalsha') return value.bind(target);
        return (sha: string, ...rest: unknown[]) => {
          if (sha === recordScript.sha) statsCalls++;
          return (value as (...a: unknown[]) => unknown).call(target, sha, ...rest);
        };
      },
    });
    const recorder = createStatsRecorder(() => counted, prefix, 'agent__batched');
    const now = Date.now();
    for (let n = 0; n < 200; n++) recorder.increment(n % 2 === 0 ? 'acme' : 'globex', 'e', 1, now);
    // The slot's first increment went out at once (it may create the slot's hash); the other 199 wait.
    expect(statsCalls).toBe(1);
    await recorder.flush();
    expect(statsCalls).toBe(2);
    await recorder.flush();
    expect(statsCalls).toBe(2);
    const slots = await jobStats.read(redis, 'agent__batched', { prefix });
    expect([sum(slots, 'acme').enqueued, sum(slots, 'globex').enqueued]).toEqual([100, 100]);
  });

  it('close() writes the increments still buffered', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    const q = defineQueue({ namespace: 'agent', name: 'flushed', schema: z.object({ n: z.number() }), prefix, connection: redis });
    await q.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: 2 }]);
    await q.close();
    // No waiting: close() resolved after the write.
    expect(sum(await jobStats.read(redis, q.name, { prefix: q.settings.prefix }), 'acme').enqueued).toBe(2);
  });

  it('close() waits for its own increments only: a recorder whose Redis is down does not hold it up', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    // A worker-role connection to nowhere: its writes wait for Redis without bound.
    const nowhere = createRedisConnection(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:1' }), { role: 'worker' });
    const stuck = createStatsRecorder(() => nowhere, prefix, 'agent__nowhere');
    stuck.increment('acme', 'c', 1);
    const q = defineQueue({ namespace: 'agent', name: 'closing', schema: z.object({ n: z.number() }), prefix, connection: redis });
    await q.enqueue({ tenantId: 'acme', n: 1 });
    await q.close(); // resolves (with the stuck write still pending), else this test times out
    expect(sum(await jobStats.read(redis, q.name, { prefix: q.settings.prefix }), 'acme').enqueued).toBe(1);
    nowhere.disconnect();
  });

  it('recordStats: false records nothing', async () => {
    const prefix = uniquePrefix('jstats');
    prefixes.push(prefix);
    const q = defineQueue({ namespace: 'agent', name: 'quiet', schema: z.object({ n: z.number() }), prefix, connection: redis, recordStats: false });
    const worker = createWorker(q, async () => undefined, { connection: workerConnection, handleSignals: false, recordStats: false });
    await q.enqueue({ tenantId: 'acme', n: 1 });
    await waitFor(async () => (await q.queue.getCompletedCount()) === 1);
    await worker.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await keysMatching(redis, `${q.settings.prefix}:${q.name}:stats:*`)).toEqual([]);
    await q.close();
  });
});

describe('attemptIncrements', () => {
  const job = (attemptsMade: number, attempts = 3) => ({ timestamp: 1_000, attemptsMade, opts: { attempts } });

  it('records the wait only on the first attempt, and a job failed for good only on its last', () => {
    expect(Object.fromEntries(attemptIncrements(job(0), 't', 3_000, 3_500, {}))).toEqual({ [`t|w${bucketOf(2)}`]: 1, 't|ws': 2000, [`t|r${bucketOf(0.5)}`]: 1, 't|rs': 500, 't|c': 1 });
    expect(Object.fromEntries(attemptIncrements(job(1), 't', 3_000, 3_000, { error: new Error('x') }))).toEqual({ 't|r0': 1, 't|rs': 0, 't|a': 1 });
    expect(attemptIncrements(job(2), 't', 3_000, 3_000, { error: new Error('x') }).get('t|f')).toBe(1);
  });

  it('a deferral counts only as deferred, with its reason (or code) as the label', () => {
    expect(Object.fromEntries(attemptIncrements(job(0), 't', 3_000, 3_000, { error: new DeferJobError(5, 'tenant-paused') }))).toEqual({ 't|d:tenant-paused': 1 });
    const coded = Object.assign(new Error('busy'), { delayJob: true, retryAfterMs: 5, code: 'POOL_FULL' });
    expect(Object.fromEntries(attemptIncrements(job(0), 't', 3_000, 3_000, { error: coded }))).toEqual({ 't|d:pool_full': 1 });
  });

  it('puts durations in the first bucket whose bound holds them, the rest in +Inf', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(JOB_STATS_BUCKETS[3]!)).toBe(3);
    expect(bucketOf(1e9)).toBe(JOB_STATS_BUCKETS.length);
  });
});
