import { activityLockHandler, LockNotAcquiredError } from '@platform/locks';
import { createWorker, defineQueue } from '@platform/queue';
import { closeSharedConnections, createRedisConnection, loadRedisConfig, redisKey } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const queuePrefix = uniquePrefix('q');
const activityId = uniquePrefix('activity');

interface ActivityJob {
  data: { activityId: string; step: number };
}

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${queuePrefix}:`);
  await deleteKeysByPrefix(redis, redisKey('lock', 'activity', activityId));
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

describe('activity lock around a createWorker handler', () => {
  it('two jobs for one activity on a worker with concurrency 2 never overlap; the second is delayed, not failed', async () => {
    const definition = defineQueue({
      namespace: 'agent',
      name: 'writer',
      schema: z.object({ activityId: z.string(), step: z.number() }),
      prefix: queuePrefix,
      connection: redis,
    });
    const intervals: Array<{ step: number; start: number; end: number }> = [];
    const calls = new Map<number, number>();
    const busyErrors: LockNotAcquiredError[] = [];
    const locked = activityLockHandler(
      redis,
      (job: ActivityJob) => job.data.activityId,
      async (job: ActivityJob) => {
        const start = performance.now();
        // Longer than the lock TTL: auto-extension keeps it through the work.
        await new Promise((resolve) => setTimeout(resolve, 700));
        intervals.push({ step: job.data.step, start, end: performance.now() });
        return job.data.step;
      },
      { ttlMs: 500 },
    );
    const worker = createWorker(
      definition,
      async (job, ctx) => {
        calls.set(job.data.step, (calls.get(job.data.step) ?? 0) + 1);
        try {
          return await locked(job, ctx);
        } catch (error) {
          if (error instanceof LockNotAcquiredError) busyErrors.push(error);
          throw error;
        }
      },
      { connection: workerConnection, handleSignals: false, concurrency: 2 },
    );
    const jobs = await Promise.all([1, 2].map((step) => definition.enqueue({ tenantId: 'acme', activityId, step })));
    await waitFor(
      async () => (await Promise.all(jobs.map((j) => definition.queue.getJobState(j.id!)))).every((s) => s === 'completed'),
      20_000,
      50,
    );

    expect(intervals).toHaveLength(2);
    const [first, second] = [...intervals].sort((a, b) => a.start - b.start);
    expect(second!.start).toBeGreaterThanOrEqual(first!.end);
    // The second job found the lock busy at least once and was delayed, not run or failed.
    expect(busyErrors.length).toBeGreaterThanOrEqual(1);
    expect(busyErrors.every((e) => e.delayJob && e.retryAfterMs > 0)).toBe(true);
    expect((calls.get(1) ?? 0) + (calls.get(2) ?? 0)).toBe(2 + busyErrors.length);
    for (const job of jobs) {
      const fresh = await definition.queue.getJob(job.id!);
      expect(fresh!.returnvalue).toBe(job.data.step);
      // Being delayed spent no attempt.
      expect(fresh!.attemptsMade).toBe(1);
    }
    expect(await redis.exists(redisKey('lock', 'activity', activityId))).toBe(0);
    await worker.close();
    await definition.close();
  });
});
