import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { keysMatching, luaScriptProblems, standaloneOnly, uniquePrefix, waitFor } from '@platform/testing';
import { FairJobPendingError, QueueUnavailableError, TenantBacklogFullError } from '../errors';
import { join } from 'node:path';
import { z } from 'zod';
import { defineQueue } from '../define-queue';
import { createWorker } from '../worker';
import type { FairnessOptions } from './options';
import { fairSchedulerOf } from './scheduler';
import { recordScript } from '../job-stats';
import { poolAcquireScript, poolRefreshScript } from '../pools/scripts';
import { fairScripts } from './scripts';
import { guardHeldJobs } from './backlog';
import { Queue } from 'bullmq';
import { useQueueTestContext } from '../test-support';

const { redis, workerConnection, prefixes } = useQueueTestContext();
const schema = z.object({ n: z.number() });

function fairQueue(fairness: FairnessOptions = {}) {
  const prefix = uniquePrefix('fair');
  prefixes.push(prefix);
  return defineQueue({
    namespace: 'agent',
    name: 'fair',
    schema,
    prefix,
    connection: redis,
    fairness,
    defaultJobOptions: { backoff: { type: 'fixed', delay: 50 } },
  });
}


describe('fair scheduling and pool scripts', () => {
  it('keep the Lua conventions: file names with key counts, complete headers, SHAs, the clock from nowMs', async () => {
    expect(await luaScriptProblems(redis, [...Object.values(fairScripts), poolAcquireScript, poolRefreshScript, recordScript], join(__dirname, '../lua'))).toEqual([]);
  });
});

describe("fairness: 'per-tenant'", () => {
  it('holds jobs in the tenants pending sets beyond the window and hands them out across tenants', async () => {
    const q = fairQueue({ window: 3 });
    await q.enqueueBulk(Array.from({ length: 6 }, (_, n) => ({ tenantId: 'big', n })));
    await q.enqueue({ tenantId: 'small', n: 100 });
    // The producer's dispatch step after an enqueue is not awaited by the enqueue.
    await fairSchedulerOf(q)!.idle();
    const counts = await q.queue.getJobCounts('waiting', 'prioritized');
    expect((counts.waiting ?? 0) + (counts.prioritized ?? 0)).toBe(3);
    const order: string[] = [];
    const worker = createWorker(q, async (job) => void order.push(`${job.data.tenantId}:${job.data.n}`), {
      connection: workerConnection,
      handleSignals: false,
    });
    await waitFor(() => order.length === 7, 10_000);
    await worker.close();
    // 'small' waited behind the window (3 jobs), not behind big's whole backlog.
    expect(order.indexOf('small:100')).toBeLessThanOrEqual(4);
    expect(order.filter((o) => o.startsWith('big')).map((o) => Number(o.split(':')[1]))).toEqual([0, 1, 2, 3, 4, 5]);
    await q.close();
  });

  it('returns a Job with its final id and the enqueue time as timestamp', async () => {
    const q = fairQueue();
    const before = Date.now();
    const job = await q.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 2 });
    expect(job.id).toMatch(/^f[0-9a-f]{12}\.[0-9a-z]+$/);
    expect(job.opts.attempts).toBe(2);
    // The queue's job defaults under the caller's options, and the id, as BullMQ's own add gives them.
    expect(job.opts.jobId).toBe(job.id);
    expect(job.opts.removeOnComplete).toEqual(q.settings.defaultJobOptions.removeOnComplete);
    expect(job.timestamp).toBeGreaterThanOrEqual(before);
    await waitFor(async () => (await q.queue.getJob(job.id!)) !== undefined, 5000);
    const stored = await q.queue.getJob(job.id!);
    expect(stored?.timestamp).toBe(job.timestamp);
    expect(stored?.data).toEqual({ tenantId: 'acme', n: 1 });
    await q.close();
  });

  it('keeps priorities: within a tenant, lower priority numbers go first (no priority first of all)', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'acme', n: 0 }); // released at once (window has room)
    await q.enqueue({ tenantId: 'acme', n: 10 }, { priority: 10 });
    await q.enqueue({ tenantId: 'acme', n: 1 }, { priority: 1 });
    await q.enqueue({ tenantId: 'acme', n: 5 });
    const order: number[] = [];
    const worker = createWorker(q, async (job) => void order.push(job.data.n), { connection: workerConnection, handleSignals: false });
    await waitFor(() => order.length === 4, 10_000);
    await worker.close();
    expect(order).toEqual([0, 5, 1, 10]);
    await q.close();
  });

  it('keeps delays: a delayed job runs after its delay', async () => {
    const q = fairQueue();
    const done: number[] = [];
    const worker = createWorker(q, async (job) => void done.push(Date.now() - job.timestamp), { connection: workerConnection, handleSignals: false });
    const job = await q.enqueue({ tenantId: 'acme', n: 1 }, { delay: 400 });
    expect(await q.queue.getJobState(job.id!)).toBe('delayed');
    await waitFor(() => done.length === 1, 10_000);
    expect(done[0]).toBeGreaterThanOrEqual(400);
    await worker.close();
    await q.close();
  });

  it('keeps retries: a failing job is retried with its attempts and backoff', async () => {
    const q = fairQueue({ maxActivePerTenant: 1 });
    let calls = 0;
    const worker = createWorker(
      q,
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('transient');
        return 'ok';
      },
      { connection: workerConnection, handleSignals: false },
    );
    const job = await q.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 3 });
    await waitFor(async () => (await q.queue.getJobState(job.id!)) === 'completed', 10_000);
    const finished = await q.queue.getJob(job.id!);
    expect(finished?.attemptsMade).toBe(3);
    expect(calls).toBe(3);
    // The tenant's slot was freed after the last attempt.
    expect(await redis.zcard(`${q.settings.prefix}:${q.name}:fair:a:acme`)).toBe(0);
    await worker.close();
    await q.close();
  });

  it("a retry takes a rate slot of its own: a failing job's attempts keep to the tenant's rate", async () => {
    const q = fairQueue({ tenantRate: { max: 1, durationMs: 1000 } });
    const starts: number[] = [];
    const worker = createWorker(
      q,
      async () => {
        starts.push(Date.now());
        throw new Error('provider down');
      },
      { connection: workerConnection, handleSignals: false },
    );
    await q.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    await waitFor(() => starts.length === 3, 10_000);
    // One attempt per window of 1 s (the retries waited for it, as the first job of the tenant would).
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(950);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(950);
    await worker.close();
    await q.close();
  });

  it('keeps deduplication: a second job with the same deduplication id or jobId is not added', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'other', n: 0 }); // fills the window, so the next ones stay pending
    const first = await q.enqueue({ tenantId: 'acme', n: 1 }, { deduplication: { id: 'report-42' } });
    const second = await q.enqueue({ tenantId: 'acme', n: 2 }, { deduplication: { id: 'report-42' } });
    expect(second.id).toBe(first.id);
    const a = await q.enqueue({ tenantId: 'acme', n: 3 }, { jobId: 'custom-1' });
    const b = await q.enqueue({ tenantId: 'acme', n: 4 }, { jobId: 'custom-1' });
    expect(b.id).toBe(a.id);
    const seen: number[] = [];
    const worker = createWorker(q, async (job) => void seen.push(job.data.n), { connection: workerConnection, handleSignals: false });
    await waitFor(() => seen.length === 3, 10_000);
    // Once released, BullMQ's own deduplication applies too.
    await q.enqueue({ tenantId: 'acme', n: 5 }, { deduplication: { id: 'report-42', ttl: 60_000 } });
    await q.enqueue({ tenantId: 'acme', n: 6 }, { deduplication: { id: 'report-42', ttl: 60_000 } });
    await waitFor(() => seen.length >= 4, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await worker.close();
    expect(seen.sort()).toEqual([0, 1, 3, 5]);
    // Nothing left behind in the fair keys but the sequence counter and the virtual time.
    const left = (await keysMatching(redis, `${q.settings.prefix}:${q.name}:fair:*`)).sort();
    expect(left).toEqual([`${q.settings.prefix}:${q.name}:fair:pass`, `${q.settings.prefix}:${q.name}:fair:seq`]);
    await q.close();
  });

  it('keeps graceful shutdown: active jobs finish and free their slots, pending jobs wait for the next worker', async () => {
    const q = fairQueue({ window: 2, maxActivePerTenant: 2 });
    await q.enqueueBulk(Array.from({ length: 6 }, (_, n) => ({ tenantId: 'acme', n })));
    const finished: number[] = [];
    let started = 0;
    const worker = createWorker(
      q,
      async (job) => {
        started += 1;
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished.push(job.data.n);
      },
      { connection: workerConnection, handleSignals: false, concurrency: 2 },
    );
    await waitFor(() => started === 2, 5000);
    await worker.close();
    expect(finished.sort()).toEqual([0, 1]);
    expect(await redis.zcard(`${q.settings.prefix}:${q.name}:fair:a:acme`)).toBeLessThanOrEqual(2);
    const secondConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
    const second = createWorker(q, async (job) => void finished.push(job.data.n), { connection: secondConnection, handleSignals: false });
    await waitFor(() => finished.length === 6, 10_000);
    expect(finished.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    await second.close();
    await secondConnection.quit();
    await q.close();
  });

  it('a job that starts without a slot (delayed, retried) waits for a free one without spending an attempt', async () => {
    const q = fairQueue({ maxActivePerTenant: 1 });
    const runs: Array<{ n: number; from: number; to: number; attemptsMade: number }> = [];
    const worker = createWorker(
      q,
      async (job) => {
        const from = Date.now();
        await new Promise((resolve) => setTimeout(resolve, job.data.n === 1 ? 500 : 10));
        runs.push({ n: job.data.n, from, to: Date.now(), attemptsMade: job.attemptsMade });
      },
      { connection: workerConnection, handleSignals: false, concurrency: 2 },
    );
    await q.enqueue({ tenantId: 'acme', n: 1 }); // handed out with the tenant's only slot
    await q.enqueue({ tenantId: 'acme', n: 2 }, { delay: 100, attempts: 1 }); // goes to BullMQ directly
    await waitFor(() => runs.length === 2, 10_000);
    const [first, second] = runs;
    expect(first!.n).toBe(1);
    expect(second!.n).toBe(2);
    expect(second!.from).toBeGreaterThanOrEqual(first!.to);
    expect(second!.attemptsMade).toBe(0);
    await worker.close();
    await q.close();
  });
});

// Jobs enter BullMQ at their enqueue (held), so BullMQ refuses bad options there, for the whole
// call, and a hand-out never meets a job BullMQ will not take.
describe('fair enqueue', () => {
  it('a job BullMQ refuses is refused at enqueue; a bulk that holds one writes nothing', async () => {
    const q = fairQueue({ window: 1 });
    // Options BullMQ refuses only at its add (exclusive parent options; the enqueue does not check them).
    const bad = { failParentOnFailure: true, ignoreDependencyOnFailure: true };
    await expect(q.enqueue({ tenantId: 'acme', n: 1 }, bad)).rejects.toThrow(/cannot be used together/);
    const scheduler = fairSchedulerOf(q)!;
    await expect(
      scheduler.enqueue([
        { name: 'job', data: { tenantId: 'globex' }, opts: undefined },
        { name: 'job', data: { tenantId: 'acme' }, opts: bad },
      ]),
    ).rejects.toThrow(/cannot be used together/);
    expect(await q.counts()).toMatchObject({ pending: 0, waiting: 0, delayed: 0 });
    expect((await q.queue.getJobCounts()).delayed).toBe(0);
    await q.close();
  });

  it('a tenantRate that is not { max, durationMs } or undefined is refused with InvalidArgumentError, nothing written', async () => {
    for (const tenantRate of [null, 5, () => null]) {
      const q = fairQueue({ tenantRate: tenantRate as never });
      await expect(q.enqueue({ tenantId: 'acme', n: 1 })).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'tenantRate' });
      expect((await q.queue.getJobCounts()).delayed).toBe(0);
      await q.close();
    }
  });

  it('a weights record gives weight 1 to every tenant it does not list, whatever its id', async () => {
    const q = fairQueue({ weights: { acme: 2 } });
    // Valid tenant ids that are also names of Object.prototype's properties.
    for (const tenantId of ['constructor', 'toString', '__proto__']) {
      await expect(q.enqueue({ tenantId, n: 1 })).resolves.toMatchObject({ data: { tenantId } });
      expect(fairSchedulerOf(q)!.settings.tenant(tenantId).weight).toBe(1);
    }
    await q.close();
  });
});

describe('a fair queue behaves like a queue', () => {
  // window 1 and one tenant's job released: everything after it stays in the fair backlog.
  async function backlogged() {
    const q = fairQueue({ window: 1 });
    const released = await q.enqueue({ tenantId: 'first', n: 0 });
    await waitFor(async () => (await q.queue.getJobState(released.id!)) === 'waiting', 5000);
    const pending = await q.enqueueBulk([
      { tenantId: 'acme', n: 1 },
      { tenantId: 'acme', n: 2 },
      { tenantId: 'globex', n: 3 },
    ]);
    return { q, released, pending };
  }

  it('counts() includes the jobs pending in the fair backlog', async () => {
    const { q } = await backlogged();
    await q.enqueue({ tenantId: 'acme', n: 9 }, { delay: 60_000 });
    const counts = await q.counts();
    expect(counts).toMatchObject({ pending: 3, waiting: 1, delayed: 1, active: 0, completed: 0, failed: 0 });
    await q.close();
  });

  it("BullMQ's queue.promoteJobs() promotes the jobs callers delayed and leaves the held backlog to the dispatcher", async () => {
    const { q, pending } = await backlogged();
    const delayed = await Promise.all([1, 2, 3].map((n) => q.enqueue({ tenantId: 'acme', n: 10 + n }, { delay: 60_000 })));
    await q.queue.promoteJobs({ count: 2 });
    for (const job of delayed) expect(await q.queue.getJobState(job.id!)).toBe('waiting');
    for (const job of pending) expect(await job.getState()).toBe('pending');
    expect(await q.counts()).toMatchObject({ pending: 3, waiting: 4, delayed: 0 });
    await q.close();
  });

  it("queue.promoteJobs() on a fair queue rejects when the connection fails mid-batch (a job it could not promote is not skipped silently)", async () => {
    const { q } = await backlogged();
    const delayed = await q.enqueue({ tenantId: 'acme', n: 11 }, { delay: 60_000 });
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const getJob = q.queue.getJob.bind(q.queue);
    q.queue.getJob = () => Promise.reject(down);
    await expect(q.queue.promoteJobs()).rejects.toBe(down);
    q.queue.getJob = getJob;
    expect(await q.queue.getJobState(delayed.id!)).toBe('delayed');
    await q.close();
  });

  it("job.promote() and job.changeDelay() of a held job are refused and change nothing; a job the caller delayed is promoted as BullMQ does", async () => {
    const { q, pending } = await backlogged();
    const delayed = await q.enqueue({ tenantId: 'acme', n: 11 }, { delay: 60_000 });
    const heldScore = await redis.zscore(q.queue.toKey('delayed'), pending[0]!.id!);
    // The definition's jobs, and the same job read back through the definition and through BullMQ's API.
    const handles = [pending[0]!, (await q.getJob(pending[0]!.id!))!, (await q.queue.getJob(pending[0]!.id!))!];
    for (const job of handles) {
      await expect(job.promote()).rejects.toBeInstanceOf(FairJobPendingError);
      await expect(job.changeDelay(0)).rejects.toMatchObject({ code: 'FAIR_JOB_PENDING', jobId: job.id, operation: 'changeDelay' });
    }
    expect(await redis.zscore(q.queue.toKey('delayed'), pending[0]!.id!)).toBe(heldScore);
    expect(await q.counts()).toMatchObject({ pending: 3, waiting: 1, delayed: 1 });
    const [fromBullmq] = await q.queue.getJobs(['delayed']).then((jobs) => jobs.filter((job) => job.id === delayed.id));
    await fromBullmq!.promote();
    expect(await q.queue.getJobState(delayed.id!)).toBe('waiting');
    for (const job of pending) expect(await job.getState()).toBe('pending');
    await q.close();
  });

  it("guardHeldJobs: a BullMQ Queue opened by name keeps a fair queue's turns, and leaves a plain queue's long-delayed jobs to BullMQ", async () => {
    const { q, pending } = await backlogged();
    const byName = new Queue(q.name, { connection: redis, prefix: q.settings.prefix });
    guardHeldJobs(byName, () => redis);
    const plainPrefix = uniquePrefix('plain');
    prefixes.push(plainPrefix);
    const plain = defineQueue({ namespace: 'agent', name: 'plain', schema, prefix: plainPrefix, connection: redis });
    const plainByName = new Queue(plain.name, { connection: redis, prefix: plain.settings.prefix });
    guardHeldJobs(plainByName, () => redis);
    try {
      const held = (await byName.getJob(pending[0]!.id!))!;
      expect(held.opts.delay).toBeUndefined();
      expect(await held.getState()).toBe('pending');
      await expect(held.promote()).rejects.toBeInstanceOf(FairJobPendingError);
      await byName.promoteJobs();
      for (const job of pending) expect(await job.getState()).toBe('pending');
      // Delayed for about 1.9 years: a held score, but a plain queue holds nothing.
      const far = await plain.enqueue({ tenantId: 'acme', n: 1 }, { delay: 6e10 });
      const farByName = (await plainByName.getJob(far.id!))!;
      expect(await farByName.getState()).toBe('delayed');
      await farByName.promote();
      expect(await plain.queue.getJobState(far.id!)).toBe('waiting');
      const farther = await plain.enqueue({ tenantId: 'acme', n: 2 }, { delay: 6e10 });
      await plainByName.promoteJobs();
      expect(await plain.queue.getJobState(farther.id!)).toBe('waiting');
    } finally {
      await byName.close();
      await plainByName.close();
      await plain.close();
      await q.close();
    }
  });

  it("the jobs BullMQ's API reads on a fair queue say pending while held and carry the options they were enqueued with", async () => {
    const { q, pending } = await backlogged();
    const delayed = await q.enqueue({ tenantId: 'acme', n: 11 }, { delay: 60_000 });
    const listed = await q.queue.getDelayed();
    expect(listed.map((job) => job.id).sort()).toEqual([...pending.map((job) => job.id), delayed.id].sort());
    for (const job of listed) {
      if (job.id === delayed.id) {
        expect(job.opts.delay).toBe(60_000);
        expect(await job.getState()).toBe('delayed');
      } else {
        expect(job.opts.delay).toBeUndefined();
        expect(await job.getState()).toBe('pending');
      }
    }
    await q.close();
  });

  it('getJob(id) finds a pending job, and its getState() says pending, then waiting once handed out', async () => {
    const { q, pending } = await backlogged();
    const job = pending[0]!;
    expect(await job.getState()).toBe('pending');
    const found = await q.getJob(job.id!);
    expect(found?.data).toEqual({ tenantId: 'acme', n: 1 });
    expect(found?.id).toBe(job.id);
    expect(await found!.getState()).toBe('pending');
    expect(await q.getJob('no-such-job')).toBeUndefined();
    // Make room in the window and run a dispatch step (a worker would): acme is first in turn.
    await q.queue.drain();
    await fairSchedulerOf(q)!.pump();
    expect(await job.getState()).toBe('waiting');
    expect(await (await q.getJob(job.id!))!.getState()).toBe('waiting');
    await q.close();
  });

  standaloneOnly(it, 'counts MULTI commands in INFO commandstats of one server')('the single enqueues of one event-loop turn go in one MULTI, each caller getting its own job', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    await fairSchedulerOf(q)!.idle();
    const multis = async () => Number(/cmdstat_multi:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await multis();
    const jobs = await Promise.all(Array.from({ length: 20 }, (_, n) => q.enqueue({ tenantId: n % 2 ? 'acme' : 'globex', n: n + 1 })));
    expect((await multis()) - before).toBe(1);
    expect(new Set(jobs.map((job) => job.id)).size).toBe(20);
    for (const [n, job] of jobs.entries()) expect(job.data).toEqual({ tenantId: n % 2 ? 'acme' : 'globex', n: n + 1 });
    expect((await q.counts()).pending).toBe(20);
    await q.close();
  });

  standaloneOnly(it, 'counts commands in INFO commandstats of one server')('a bulk of 10 takes its 10 sequence numbers with one INCRBY, in order', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    await fairSchedulerOf(q)!.idle();
    const calls = async (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);
    const incrbyBefore = await calls('incrby');
    const seqBefore = Number(await redis.get(fairSchedulerOf(q)!.keys.seq));
    const jobs = await q.enqueueBulk(Array.from({ length: 10 }, (_, n) => ({ tenantId: 'acme', n: n + 1 })));
    expect((await calls('incrby')) - incrbyBefore).toBe(1);
    expect(Number(await redis.get(fairSchedulerOf(q)!.keys.seq))).toBe(seqBefore + 10);
    // FIFO within the tenant: the pending set's order is the bulk's.
    expect(await redis.zrange(fairSchedulerOf(q)!.keys.pending('acme'), '0', '-1')).toEqual(jobs.map((job) => job.id));
    await q.close();
  });

  it('one turn of single enqueues: a tenant over its backlog cap and options BullMQ refuses fail only their own calls', async () => {
    const q = fairQueue({ window: 1, maxPendingPerTenant: 2 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    await fairSchedulerOf(q)!.idle();
    const settled = await Promise.allSettled([
      q.enqueue({ tenantId: 'acme', n: 1 }),
      q.enqueue({ tenantId: 'globex', n: 2 }),
      q.enqueue({ tenantId: 'acme', n: 3 }),
      q.enqueue({ tenantId: 'acme', n: 4 }),
      q.enqueue({ tenantId: 'globex', n: 5 }, { failParentOnFailure: true, ignoreDependencyOnFailure: true } as never),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(TenantBacklogFullError);
    expect(String((settled[4] as PromiseRejectedResult).reason)).toMatch(/cannot be used together/);
    // The accepted calls are pending once each, in their tenants' order.
    expect((await q.counts()).pending).toBe(3);
    expect(await redis.zcard(fairSchedulerOf(q)!.keys.pending('acme'))).toBe(2);
    await q.close();
  });

  it('one turn of single enqueues whose reply is lost after the MULTI ran: every caller gets the error, nothing is added again', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    const scheduler = fairSchedulerOf(q)!;
    await scheduler.idle();
    const enqueue = scheduler.enqueue.bind(scheduler);
    const lost = new Error('Connection is closed.');
    let batches = 0;
    // The batch's MULTI runs and writes; its reply never arrives (the connection drops after it).
    scheduler.enqueue = (async (...args: Parameters<typeof enqueue>) => {
      batches++;
      await enqueue(...args);
      throw lost;
    }) as typeof scheduler.enqueue;
    const settled = await Promise.allSettled([1, 2, 3].map((n) => q.enqueue({ tenantId: n === 2 ? 'globex' : 'acme', n })));
    scheduler.enqueue = enqueue;
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(QueueUnavailableError);
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/Connection is closed/);
    }
    // One batch, not retried one add at a time: a retry after a MULTI that ran would add each job twice.
    expect(batches).toBe(1);
    expect((await q.counts()).pending).toBe(3);
    await q.close();
  });

  it('drain() removes a backlog larger than its chunk in bounded steps (never every remove in flight at once)', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    await fairSchedulerOf(q)!.idle();
    const total = 2500;
    for (let at = 0; at < total; at += 500) {
      await q.enqueueBulk(Array.from({ length: 500 }, (_, k) => ({ tenantId: (at + k) % 5 === 0 ? 'globex' : 'acme', n: at + k })));
    }
    expect((await q.counts()).pending).toBe(total);
    let inFlight = 0;
    let most = 0;
    const remove = q.queue.remove.bind(q.queue);
    q.queue.remove = async (...args: Parameters<typeof remove>) => {
      most = Math.max(most, ++inFlight);
      try {
        return await remove(...args);
      } finally {
        inFlight--;
      }
    };
    await q.drain();
    expect(await q.counts()).toMatchObject({ pending: 0, waiting: 0 });
    expect(await redis.exists(fairSchedulerOf(q)!.keys.pending('acme'), fairSchedulerOf(q)!.keys.pending('globex'))).toBe(0);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(200);
    await q.close();
  });

  it('drain() removes pending jobs as well as waiting ones; delayed ones only with drain(true)', async () => {
    const { q, pending } = await backlogged();
    const delayed = await q.enqueue({ tenantId: 'acme', n: 9 }, { delay: 60_000 });
    await q.drain();
    expect(await q.counts()).toMatchObject({ pending: 0, waiting: 0, delayed: 1 });
    expect(await q.getJob(pending[0]!.id!)).toBeUndefined();
    expect(await pending[0]!.getState()).toBe('unknown');
    await q.drain(true);
    expect(await q.getJob(delayed.id!)).toBeUndefined();
    // The backlog works again afterwards.
    const again = await q.enqueue({ tenantId: 'acme', n: 10 });
    const seen: number[] = [];
    const worker = createWorker(q, async (j) => void seen.push(j.data.n), { connection: workerConnection, handleSignals: false });
    await waitFor(async () => (await again.getState()) === 'completed', 10_000);
    expect(seen).toEqual([10]);
    await worker.close();
    await q.close();
  });

  it('obliterate() deletes the queue, its pending jobs and every fair key', async () => {
    const { q } = await backlogged();
    await q.obliterate();
    expect(await keysMatching(redis, `${q.settings.prefix}:${q.name}:*`)).toEqual([]);
    expect(await q.counts()).toMatchObject({ pending: 0, waiting: 0 });
    await q.close();
  });
});

describe('held jobs: a fair job enters BullMQ once, at its enqueue', () => {
  /** The queue's events for one job: `event` and, where BullMQ gives it, `prev`. */
  async function eventsOf(q: ReturnType<typeof fairQueue>, id: string): Promise<string[]> {
    const events = await redis.xrange(`${q.settings.prefix}:${q.name}:events`, '-', '+');
    return events
      .map(([, fields]) => {
        const f = new Map<string, string>();
        for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
        return f;
      })
      .filter((f) => f.get('jobId') === id)
      .map((f) => (f.has('prev') ? `${f.get('event')}<-${f.get('prev')}` : f.get('event')!));
  }

  it('a released job cannot be told from a promoted delayed job: state, job hash, events, counts', async () => {
    const q = fairQueue({ window: 1 });
    const fair = await q.enqueue({ tenantId: 'acme', n: 1 }); // released at once: the window has room
    const delayed = await q.enqueue({ tenantId: 'acme', n: 2 }, { delay: 60_000 });
    await fairSchedulerOf(q)!.idle();
    await (await q.queue.getJob(delayed.id!))!.promote();
    for (const id of [fair.id!, delayed.id!]) {
      expect(await q.queue.getJobState(id)).toBe('waiting');
      expect(await eventsOf(q, id)).toEqual(['added', 'delayed', 'waiting<-delayed']);
      const hash = await redis.hgetall(q.queue.toKey(id));
      expect(hash).toMatchObject({ delay: '0', priority: '0' });
      expect(Object.keys(hash).sort()).toEqual(['data', 'delay', 'name', 'opts', 'priority', 'timestamp']);
      const job = await q.getJob(id);
      expect(job?.delay).toBe(0);
      expect(await job!.getState()).toBe('waiting');
    }
    expect(await q.queue.getWaiting()).toHaveLength(2);
    expect(await q.counts()).toMatchObject({ pending: 0, waiting: 2, delayed: 0, prioritized: 0 });
    await q.close();
  });

  it('a held job is pending (getState, getJob, counts) and BullMQ counts it nowhere else; it runs once released', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    // 'first' fills the window before acme's jobs arrive (the enqueue does not await its hand-out).
    await fairSchedulerOf(q)!.idle();
    const held = await q.enqueue({ tenantId: 'acme', n: 1 }, { priority: 3 });
    expect(await held.getState()).toBe('pending');
    expect(await (await q.getJob(held.id!))!.getState()).toBe('pending');
    // BullMQ has it (held in its delayed set), but the queue's counts show it as pending only.
    expect(await q.queue.getJobState(held.id!)).toBe('delayed');
    expect(await q.counts()).toMatchObject({ pending: 1, waiting: 1, delayed: 0, prioritized: 0 });
    expect(await eventsOf(q, held.id!)).toEqual(['added', 'delayed']);
    const seen: number[] = [];
    const worker = createWorker(q, async (job) => void seen.push(job.data.n), { connection: workerConnection, handleSignals: false });
    await waitFor(() => seen.length === 2, 10_000);
    expect(seen).toEqual([0, 1]);
    // A prioritized release, as BullMQ's promote does for a job with a priority.
    expect((await eventsOf(q, held.id!)).slice(0, 3)).toEqual(['added', 'delayed', 'waiting<-delayed']);
    // One `added` per job: the hand-out added nothing.
    const added = (await redis.xrange(`${q.settings.prefix}:${q.name}:events`, '-', '+')).filter(([, f]) => f[1] === 'added');
    expect(added).toHaveLength(2);
    await worker.close();
    await q.close();
  });

  it('a twin with a deduplication id gets the first job id, in one bulk as across calls, held or released', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    const scheduler = fairSchedulerOf(q)!;
    // 'first' fills the window before the others arrive (its hand-out is not awaited by the
    // enqueue; otherwise the stride order could release acme's job instead, and drain remove it).
    await scheduler.idle();
    const [a, b, c] = await scheduler.enqueue([
      { name: 'job', data: { tenantId: 'acme' }, opts: { deduplication: { id: 'd1' } } },
      { name: 'job', data: { tenantId: 'globex' }, opts: { deduplication: { id: 'd1' } } },
      { name: 'job', data: { tenantId: 'acme' }, opts: { deduplication: { id: 'd2' } } },
    ]);
    expect(b!.id).toBe(a!.id);
    expect(c!.id).not.toBe(a!.id);
    expect((await q.counts()).pending).toBe(2);
    // Released (window made room), a twin still gets the first id: BullMQ's deduplication key
    // lives until the job ends.
    await q.queue.drain();
    await scheduler.pump();
    expect(await q.queue.getJobState(a!.id!)).toBe('waiting');
    const twin = await q.enqueue({ tenantId: 'acme', n: 9 }, { deduplication: { id: 'd1' } });
    expect(twin.id).toBe(a!.id);
    expect((await q.counts()).pending).toBe(1);
    await q.close();
  });

  it("job.changePriority() of a held job orders it in its tenant's backlog and releases it as BullMQ's promote would", async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    // 'first' fills the window before acme's jobs arrive (the enqueue does not await its hand-out).
    await fairSchedulerOf(q)!.idle();
    const [a, b] = await q.enqueueBulk(
      [
        { tenantId: 'acme', n: 1 },
        { tenantId: 'acme', n: 2 },
      ],
      { priority: 5 },
    );
    await (await q.getJob(a!.id!))!.changePriority({ priority: 7 });
    await (await q.getJob(b!.id!))!.changePriority({ priority: 0 });
    await q.queue.drain();
    await fairSchedulerOf(q)!.pump();
    // b (now no priority) goes first, into the wait list, as BullMQ's promote puts a job of priority 0.
    expect(await q.queue.getJobState(b!.id!)).toBe('waiting');
    expect(await q.queue.getJobState(a!.id!)).toBe('delayed');
    await (await q.queue.getJob(b!.id!))!.remove();
    await fairSchedulerOf(q)!.pump();
    expect(await q.queue.getJobState(a!.id!)).toBe('prioritized');
    expect(await q.queue.getCountsPerPriority([5, 7])).toEqual({ 5: 0, 7: 1 });
    await q.close();
  });

  it('a held job removed by hand is skipped by the dispatcher; the tenant next job goes out instead', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    // 'first' fills the window before acme's jobs arrive (the enqueue does not await its hand-out).
    await fairSchedulerOf(q)!.idle();
    const [gone, next] = await q.enqueueBulk([
      { tenantId: 'acme', n: 1 },
      { tenantId: 'acme', n: 2 },
    ]);
    await (await q.queue.getJob(gone!.id!))!.remove();
    expect(await q.counts()).toMatchObject({ pending: 1, waiting: 1 });
    await q.queue.drain();
    await fairSchedulerOf(q)!.pump();
    expect(await q.queue.getJobState(next!.id!)).toBe('waiting');
    expect(await redis.exists(fairSchedulerOf(q)!.keys.pending('acme'))).toBe(0);
    await q.close();
  });

  it('a server that lost its script cache still records the held jobs of an enqueue (no job held forever)', async () => {
    const q = fairQueue({ window: 1 });
    await q.enqueue({ tenantId: 'first', n: 0 });
    // 'first' fills the window before acme's jobs arrive (the enqueue does not await its hand-out).
    await fairSchedulerOf(q)!.idle();
    await redis.script('FLUSH');
    const job = await q.enqueue({ tenantId: 'acme', n: 1 });
    expect(await job.getState()).toBe('pending');
    expect(await redis.zcard(fairSchedulerOf(q)!.keys.pending('acme'))).toBe(1);
    // Only the fair script missing: a user-delayed add (outside any MULTI) has BullMQ's add script
    // loaded again, so the MULTI's adds run and the held jobs are recorded right after it.
    await redis.script('FLUSH');
    await q.queue.add('job', { tenantId: 'acme', n: 2 }, { delay: 60_000 });
    const second = await q.enqueue({ tenantId: 'acme', n: 3 });
    expect(await second.getState()).toBe('pending');
    expect(await redis.zcard(fairSchedulerOf(q)!.keys.pending('acme'))).toBe(2);
    const seen: number[] = [];
    const worker = createWorker(q, async (j) => void seen.push(j.data.n), { connection: workerConnection, handleSignals: false });
    await waitFor(() => seen.length === 3, 10_000);
    expect(seen.sort()).toEqual([0, 1, 3]);
    await worker.close();
    await q.close();
  });
});
