import { activityLock, activityLockHandler } from '@platform/locks';
import {
  createRedisConnection,
  InvalidArgumentError,
  loadRedisConfig,
  namespacedKey,
  resolveKeyPrefix,
} from '@platform/redis';
import { uniquePrefix, waitFor } from '@platform/testing';
import type { Job } from 'bullmq';
import { z } from 'zod';
import { agentQueue } from './catalog';
import { defineQueue, type DefineQueueOptions } from './define-queue';
import { JobTimeoutError } from './errors';
import { LazyJobSignal } from './timeouts';
import { createWorker } from './worker';
import { useQueueTestContext } from './test-support';

const { redis, workerConnection, prefixes, keyPrefixes } = useQueueTestContext();
const otherWorkerRedis = createRedisConnection(loadRedisConfig(), { role: 'worker' });
// The activity locks' keys and their companions (fence counter), deleted after the file.
const lockKeys = keyPrefixes;
const schema = z.object({ activityId: z.string(), hang: z.boolean() });
type Payload = { tenantId: string; activityId: string; hang: boolean };

function testQueue(extra: Partial<DefineQueueOptions<typeof schema>> = {}) {
  const prefix = uniquePrefix('qt');
  prefixes.push(prefix);
  return defineQueue({ namespace: 'agent', name: 'timed', schema, prefix, connection: redis, ...extra });
}

afterAll(async () => {
  await otherWorkerRedis.quit();
});

describe('job time limits', () => {
  it('fails a job that never resolves and ignores its signal at the hard limit, frees the slot and releases its activity lock', async () => {
    const definition = testQueue({ defaultJobOptions: { attempts: 1 } });
    const activityId = `timeouts-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    lockKeys.push(namespacedKey(resolveKeyPrefix(), 'lock', 'activity', activityId));
    const started: string[] = [];
    const failures: unknown[] = [];
    const worker = createWorker(
      definition,
      activityLockHandler(redis, (job: Job<Payload>) => job.data.activityId, async (job) => {
        started.push(job.id!);
        if (job.data.hang) return new Promise<string>(() => undefined); // never settles, never looks at a signal
        return 'next done';
      }),
      { connection: workerConnection, handleSignals: false, concurrency: 1 },
    );
    worker.on('failed', (_job, error) => failures.push(error));
    try {
      const startedAt = Date.now();
      const hanging = await definition.enqueue({ tenantId: 'acme', activityId, hang: true }, { timeouts: { hardMs: 500 } });
      const next = await definition.enqueue({ tenantId: 'acme', activityId: `${activityId}-next`, hang: false });

      await waitFor(async () => (await definition.queue.getJobState(hanging.id!)) === 'failed', 2000);
      expect(Date.now() - startedAt).toBeLessThan(2000);
      const failed = await definition.queue.getJob(hanging.id!);
      expect(failed?.failedReason).toBe(`Job ${hanging.id} of queue agent__timed reached its hard time limit of 500 ms`);
      expect(failed?.attemptsMade).toBe(1);
      expect(failures[0]).toBeInstanceOf(JobTimeoutError);
      expect(failures[0]).toMatchObject({ code: 'JOB_TIMEOUT', limit: 'hard', limitMs: 500 });
      const { logs } = await definition.queue.getJobLogs(hanging.id!);
      expect(logs.some((line) => line.includes('hard time limit of 500 ms'))).toBe(true);

      // The single slot is free: the next job runs to completion.
      await waitFor(async () => (await definition.queue.getJobState(next.id!)) === 'completed', 5000);
      expect(started).toEqual([hanging.id, next.id]);

      // Another worker takes the hanging job's activity lock at once (no wait: it was released).
      const taken = await activityLock(otherWorkerRedis, activityId, async () => 'taken', { ttlMs: 5000, waitMs: 0 });
      expect(taken).toBe('taken');
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it('spends an attempt per hard timeout and retries as the job options say', async () => {
    const definition = testQueue();
    const worker = createWorker(definition, () => new Promise<never>(() => undefined), {
      connection: workerConnection,
      handleSignals: false,
    });
    try {
      const job = await definition.enqueue(
        { tenantId: 'acme', activityId: 'a1', hang: true },
        { timeouts: { hardMs: 200 }, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
      );
      await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'failed', 5000);
      const failed = await definition.queue.getJob(job.id!);
      expect(failed?.attemptsMade).toBe(2);
      expect(failed?.failedReason).toContain('hard time limit of 200 ms');
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it('a handler that ignores its signal still runs when the retry after its hard limit starts: the job runs twice at once (as documented)', async () => {
    const definition = testQueue();
    let running = 0;
    let most = 0;
    const worker = createWorker(
      definition,
      async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        running--;
      },
      { connection: workerConnection, handleSignals: false },
    );
    try {
      const job = await definition.enqueue(
        { tenantId: 'acme', activityId: 'a1', hang: true },
        { timeouts: { hardMs: 300 }, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
      );
      await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'failed', 5000);
      expect(most).toBe(2);
      await waitFor(() => running === 0, 5000);
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it('aborts the signal at the soft limit with a reason naming it and logs it; a handler that honours it ends cleanly', async () => {
    const definition = testQueue({ timeouts: { softMs: 200, hardMs: 10_000 } });
    let reason: unknown;
    const worker = createWorker(
      definition,
      async (_job, { signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        reason = signal.reason;
        return 'wrapped up';
      },
      { connection: workerConnection, handleSignals: false },
    );
    try {
      const job = await definition.enqueue({ tenantId: 'acme', activityId: 'a2', hang: false });
      await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'completed', 5000);
      expect((await definition.queue.getJob(job.id!))?.returnvalue).toBe('wrapped up');
      expect(reason).toBeInstanceOf(JobTimeoutError);
      expect(reason).toMatchObject({ limit: 'soft', limitMs: 200 });
      expect((reason as Error).message).toContain('soft time limit of 200 ms');
      const { logs } = await definition.queue.getJobLogs(job.id!);
      expect(logs).toEqual([`${(reason as Error).message}: signal aborted`]);
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it('with both limits, a handler that ignores the soft one is failed at the hard one (soft abort first, then the hard failure)', async () => {
    const definition = testQueue({ timeouts: { softMs: 100, hardMs: 400 }, defaultJobOptions: { attempts: 1 } });
    let reason: unknown;
    const worker = createWorker(
      definition,
      async (_job, { signal }) => {
        signal.addEventListener('abort', () => (reason = signal.reason), { once: true });
        return new Promise<string>(() => undefined); // ignores its signal, never settles
      },
      { connection: workerConnection, handleSignals: false },
    );
    try {
      const job = await definition.enqueue({ tenantId: 'acme', activityId: 'a4', hang: true });
      await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'failed', 10_000);
      expect(reason).toMatchObject({ limit: 'soft', limitMs: 100 });
      expect((await definition.queue.getJob(job.id!))?.failedReason).toBe(`Job ${job.id} of queue agent__timed reached its hard time limit of 400 ms`);
      const { logs } = await definition.queue.getJobLogs(job.id!);
      expect(logs).toEqual([
        `Job ${job.id} of queue agent__timed reached its soft time limit of 100 ms: signal aborted`,
        `Job ${job.id} of queue agent__timed reached its hard time limit of 400 ms: job failed`,
      ]);
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it('refuses bad limits with a typed error before anything is written', async () => {
    expect(() => testQueue({ timeouts: { hardMs: -1 } })).toThrow(InvalidArgumentError);
    const definition = testQueue();
    await expect(
      definition.enqueue({ tenantId: 'acme', activityId: 'a3', hang: false }, { timeouts: { softMs: 500, hardMs: 100 } }),
    ).rejects.toThrow(InvalidArgumentError);
    expect((await definition.counts()).waiting).toBe(0);
    await definition.close();
  });

  it('gives agent queues of the catalog soft 3,000 s and hard 3,600 s unless told otherwise', () => {
    expect(agentQueue('blog-writer').settings.timeouts).toEqual({ softMs: 3_000_000, hardMs: 3_600_000 });
    expect(agentQueue('blog-writer', { timeouts: { hardMs: 60_000 } }).settings.timeouts).toEqual({ hardMs: 60_000 });
  });
});

describe('the handler signal', () => {
  it('worker.cancelJob aborts that job\'s signal with the reason, cancelAllJobs every running one; a signal first read after the abort is born aborted', async () => {
    const definition = testQueue({ defaultJobOptions: { attempts: 1 } });
    const reasons = new Map<string, unknown>();
    const started = new Set<string>();
    let readLate!: () => void;
    const lateRead = new Promise<void>((resolve) => (readLate = resolve));
    const worker = createWorker(
      definition,
      async (job, context) => {
        started.add(job.data.activityId);
        // 'late' does not touch its signal until after it was cancelled.
        if (job.data.activityId === 'late') await lateRead;
        const { signal } = context;
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        reasons.set(job.data.activityId, signal.reason);
      },
      { connection: workerConnection, handleSignals: false, concurrency: 3 },
    );
    try {
      const [one, two, late] = await definition.enqueueBulk([
        { tenantId: 'acme', activityId: 'one', hang: true },
        { tenantId: 'acme', activityId: 'two', hang: true },
        { tenantId: 'acme', activityId: 'late', hang: true },
      ]);
      await waitFor(() => started.size === 3);
      expect(worker.cancelJob(one!.id!, 'stop one')).toBe(true);
      await waitFor(() => reasons.has('one'));
      expect(reasons.get('one')).toBe('stop one');
      expect(reasons.has('two')).toBe(false);
      expect(worker.cancelJob(late!.id!, 'stop late')).toBe(true);
      readLate();
      await waitFor(() => reasons.has('late'));
      expect(reasons.get('late')).toBe('stop late');
      worker.cancelAllJobs('stop all');
      await waitFor(() => reasons.has('two'));
      expect(reasons.get('two')).toBe('stop all');
      await waitFor(async () => (await definition.queue.getCompletedCount()) === 3);
      // Finished jobs are no longer cancellable.
      expect(worker.cancelJob(two!.id!, 'gone')).toBe(false);
    } finally {
      await worker.close();
      await definition.close();
    }
  });
});

describe('LazyJobSignal at the hard limit', () => {
  it('tells its hard-limit listener also when the soft limit aborted the signal first (the signal keeps the soft reason)', () => {
    const jobSignal = new LazyJobSignal();
    const heard: JobTimeoutError[] = [];
    const signal = jobSignal.signal;
    jobSignal.onHardLimit((reason) => heard.push(reason));
    const soft = new JobTimeoutError('agent__x', '1', 'soft', 10);
    const hard = new JobTimeoutError('agent__x', '1', 'hard', 20);
    jobSignal.abort(soft);
    expect(heard).toEqual([]);
    jobSignal.reachHardLimit(hard);
    jobSignal.reachHardLimit(hard);
    expect(heard).toEqual([hard]);
    expect(signal.reason).toBe(soft);
    // A listener that comes late hears it at once.
    const late: JobTimeoutError[] = [];
    jobSignal.onHardLimit((reason) => late.push(reason));
    expect(late).toEqual([hard]);
  });
});
