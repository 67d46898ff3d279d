import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, isProcessAlive, uniquePrefix, waitFor } from '@platform/testing';
import path from 'node:path';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { JobTimeoutError } from './errors';
import type { JobTimeouts } from './timeouts';
import { createWorker } from './worker';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefix = uniquePrefix('qs');
const processorFile = path.join(__dirname, '..', 'fixtures', 'sandboxed-processor.cjs');

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

/** A queue of the sandboxed processor's jobs (no retries), named `name`. */
function sandboxQueue(name: string, timeouts?: JobTimeouts) {
  return defineQueue({
    namespace: 'agent',
    name,
    schema: z.object({ activityId: z.string(), loop: z.boolean() }),
    prefix,
    connection: redis,
    defaultJobOptions: { attempts: 1 },
    timeouts,
  });
}

describe('sandboxed processors', () => {
  it.each([
    ['a hard limit', { hardMs: 3000 }, 'sandboxed'],
    // The soft limit aborts the signal first; the signal aborts once, and the hard limit must still kill.
    ['a soft limit, then a hard limit', { softMs: 1000, hardMs: 3000 }, 'sandboxed-soft'],
  ])('kills a child stuck in an endless loop at the hard limit (%s), fails the job with JobTimeoutError and runs the next job', async (_label, timeouts, name) => {
    const definition = sandboxQueue(name, timeouts);
    const failures: unknown[] = [];
    const worker = createWorker(definition, processorFile, { connection: workerConnection, handleSignals: false });
    worker.on('failed', (_job, error) => failures.push(error));
    try {
      // Forking a child can take seconds on a loaded machine: a first job (with a generous limit)
      // leaves a started child in the pool for the looping one, and the next job gets one too.
      const generous = { timeouts: { hardMs: 60_000 } };
      const warmUp = await definition.enqueue({ tenantId: 'acme', activityId: 'a0', loop: false }, generous);
      await waitFor(async () => (await definition.queue.getJobState(warmUp.id!)) === 'completed', 30_000);
      const looping = await definition.enqueue({ tenantId: 'acme', activityId: 'a1', loop: true });
      const next = await definition.enqueue({ tenantId: 'acme', activityId: 'a2', loop: false }, generous);

      const logs = await waitFor(async () => {
        const { logs: lines } = await definition.queue.getJobLogs(looping.id!);
        return lines.find((line) => line.startsWith('pid '));
      }, 20_000).catch(async (error: unknown) => {
        const job = await definition.queue.getJob(looping.id!);
        throw new Error(`${String(error)}; job ${await job?.getState()} ${job?.failedReason} ${String(failures[0])}`);
      });
      const pid = Number(logs.slice('pid '.length));
      expect(isProcessAlive(pid)).toBe(true);

      await waitFor(async () => (await definition.queue.getJobState(looping.id!)) === 'failed', 20_000);
      expect((await definition.queue.getJob(looping.id!))?.failedReason).toBe(
        `Job ${looping.id} of queue agent__${name} reached its hard time limit of 3000 ms`,
      );
      expect(failures[0]).toBeInstanceOf(JobTimeoutError);
      await waitFor(() => !isProcessAlive(pid), 10_000);

      await waitFor(async () => (await definition.queue.getJobState(next.id!)) === 'completed', 20_000);
      expect((await definition.queue.getJob(next.id!))?.returnvalue).toBe('done a2');
    } finally {
      await worker.close(true);
      await definition.close();
    }
  });

  it.each([
    ['with its signal not aborted before', 'sandboxed-force', undefined, 'none'],
    ['after its soft limit aborted the signal', 'sandboxed-force-soft', { softMs: 300, hardMs: 120_000 }, 'soft'],
    ['after worker.cancelJob aborted the signal', 'sandboxed-force-cancel', undefined, 'cancel'],
  ] as const)('worker.close(true) kills the child of a sandboxed job stuck in a loop at once, %s (the signal keeps its first reason), with no unhandled rejection', async (_label, name, timeouts, before) => {
    const definition = sandboxQueue(name, timeouts);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const worker = createWorker(definition, processorFile, { connection: workerConnection, handleSignals: false });
    try {
      const looping = await definition.enqueue({ tenantId: 'acme', activityId: 's1', loop: true });
      const line = await waitFor(async () => (await definition.queue.getJobLogs(looping.id!)).logs.find((l) => l.startsWith('pid ')), 30_000);
      const pid = Number(line.slice('pid '.length));
      if (before === 'cancel') expect(worker.cancelJob(looping.id!, 'not needed')).toBe(true);
      if (before === 'soft') await waitFor(async () => (await definition.queue.getJobLogs(looping.id!)).logs.some((l) => l.includes('soft time limit')), 10_000);
      // At once, not after BullMQ's 30 s wait for a child that never handles its SIGTERM.
      const closed = await Promise.race([worker.close(true).then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 15_000, 'still closing after 15 s'))]);
      expect(closed).toBe('closed');
      await waitFor(() => !isProcessAlive(pid), 10_000);
      // Time for a rejected send to the killed child to surface.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await definition.close();
    }
  });
});
