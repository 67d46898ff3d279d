import { DeferJobError } from '@platform/redis';
import { uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { readJobStats } from './job-stats';
import { createWorker } from './worker';
import { useQueueTestContext } from './test-support';

const { redis, workerConnection, prefixes } = useQueueTestContext();
const schema = z.object({ n: z.number() });

function testQueue() {
  const prefix = uniquePrefix('qw');
  prefixes.push(prefix);
  return defineQueue({ namespace: 'agent', name: 'worker-test', schema, prefix, connection: redis });
}

describe('a handler that throws something other than an Error', () => {
  it.each([
    ['a string', 'boom', 'boom'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a number', 42, '42'],
  ])('throwing %s spends the attempt and fails the job like an Error, its value as failedReason', async (_label, thrown, reason) => {
    const definition = testQueue();
    const errors: Error[] = [];
    let calls = 0;
    const worker = createWorker(
      definition,
      async () => {
        calls++;
        throw thrown;
      },
      { connection: workerConnection, handleSignals: false, onError: (error) => errors.push(error) },
    );
    try {
      const { id } = await definition.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 2, backoff: 0 });
      await waitFor(async () => (await definition.queue.getJobState(id!)) === 'failed', 8000);
      const job = await definition.queue.getJob(id!);
      expect(calls).toBe(2);
      expect(job?.attemptsMade).toBe(2);
      expect(job?.failedReason).toBe(reason);
      expect(errors).toEqual([]);
    } finally {
      await worker.close();
      await definition.close();
    }
  });
});

describe('worker.close(true)', () => {
  it('leaves a job whose handler honours its aborted signal active for the stalled-job check, its attempt not spent: another worker runs it', async () => {
    const definition = testQueue();
    let started = 0;
    const first = createWorker(
      definition,
      async (_job, { signal }) => {
        started++;
        // A well-behaved handler: it stops with an error as soon as its signal aborts.
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error(String(signal.reason))), { once: true }));
      },
      { connection: workerConnection, handleSignals: false, lockDuration: 1000, stalledInterval: 500 },
    );
    const { id } = await definition.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 1 });
    await waitFor(() => started === 1);
    await first.close(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const left = await definition.queue.getJob(id!);
    expect(await left?.getState()).toBe('active');
    expect(left?.attemptsMade).toBe(0);
    const second = createWorker(definition, async () => 'done', { connection: workerConnection, handleSignals: false, stalledInterval: 500 });
    try {
      await waitFor(async () => (await definition.queue.getJobState(id!)) === 'completed', 10_000);
      expect((await definition.queue.getJob(id!))?.attemptsMade).toBe(1);
    } finally {
      await second.close();
      await definition.close();
    }
  });
});

describe('deferrals', () => {
  it('a job deferred on every run is never failed by the platform; BullMQ\'s maxStartedAttempts bounds it (as documented)', async () => {
    const definition = testQueue();
    let runs = 0;
    const worker = createWorker(
      definition,
      async () => {
        runs++;
        throw new DeferJobError(1, 'provider-throttled');
      },
      { connection: workerConnection, handleSignals: false, maxStartedAttempts: 4 },
    );
    try {
      const { id } = await definition.enqueue({ tenantId: 'acme', n: 1 }, { attempts: 1 });
      await waitFor(async () => (await definition.queue.getJobState(id!)) === 'failed', 8000);
      const job = await definition.queue.getJob(id!);
      expect(runs).toBe(4);
      expect(job?.attemptsMade).toBe(1);
      expect(job?.failedReason).toBe('job started more than allowable limit');
    } finally {
      await worker.close();
      await definition.close();
    }
  });
});

describe('statistics', () => {
  it('count a job once when an attempt lost its lock (BullMQ refused its outcome) and the stalled-job check ran it again', async () => {
    const definition = testQueue();
    let calls = 0;
    const worker = createWorker(
      definition,
      async (job) => {
        // As when the worker was blocked longer than lockDuration: the lock is gone, so BullMQ
        // cannot complete the job, which the stalled-job check hands out again.
        if (++calls === 1) await redis.del(`${definition.settings.prefix}:${definition.name}:${job.id}:lock`);
        return 'done';
      },
      { connection: workerConnection, handleSignals: false, stalledInterval: 300, onError: () => undefined },
    );
    const completed = async () => {
      let sum = 0;
      for (const slot of await readJobStats(redis, definition.name, { prefix: definition.settings.prefix })) sum += slot.tenants.get('acme')?.completed ?? 0;
      return sum;
    };
    try {
      const { id } = await definition.enqueue({ tenantId: 'acme', n: 1 });
      await waitFor(async () => (await definition.queue.getJobState(id!)) === 'completed', 10_000);
      expect(calls).toBe(2);
    } finally {
      await worker.close();
      await definition.close();
    }
    await waitFor(async () => (await completed()) > 0, 5000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await completed()).toBe(1);
  });
});
