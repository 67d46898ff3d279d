import { createWorker, defineQueue } from '@platform/queue';
import { createRateLimiter, withRateLimit } from '@platform/ratelimit';
import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import type { Worker } from 'bullmq';
import { z } from 'zod';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const queuePrefix = uniquePrefix('q');
const limiterPrefix = uniquePrefix('rl');
let worker: Worker | undefined;

afterAll(async () => {
  await worker?.close();
  await deleteKeysByPrefix(redis, `${queuePrefix}:`);
  await deleteKeysByPrefix(redis, `${limiterPrefix}:`);
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

describe('withRateLimit inside a createWorker handler', () => {
  it('delays a job that hits the limit without spending an attempt, and completes it once the window reopens', async () => {
    const definition = defineQueue({
      namespace: 'agent',
      name: 'seo-audit',
      schema: z.object({ domain: z.string() }),
      prefix: queuePrefix,
      connection: redis,
    });
    // One SEMrush call per 1.5 s per tenant.
    const semrush = createRateLimiter({ redis, provider: 'semrush', prefix: limiterPrefix, limit: 1, windowSeconds: 1.5 });
    const calls: Array<{ domain: string; at: number }> = [];
    const refusals: Array<{ id: string | undefined; attemptsMade: number }> = [];
    worker = createWorker(
      definition,
      async (job, { tenantId }) => {
        try {
          return await withRateLimit(semrush, tenantId, () => {
            calls.push({ domain: job.data.domain, at: Date.now() });
            return `audited ${job.data.domain}`;
          });
        } catch (error) {
          refusals.push({ id: job.id, attemptsMade: job.attemptsMade });
          throw error;
        }
      },
      { connection: workerConnection, handleSignals: false },
    );

    // The window opens with this call, so the job below hits the limit.
    expect((await semrush.consume('tenant-1')).allowed).toBe(true);
    const job = await definition.enqueue({ tenantId: 'tenant-1', domain: 'example.com' }, { attempts: 2 });

    await waitFor(() => refusals.length > 0, 5000);
    await waitFor(async () => (await job.getState()) === 'delayed', 5000);
    const delayed = await definition.queue.getJob(job.id!);
    expect(delayed!.attemptsMade).toBe(0);
    expect(calls).toHaveLength(0);

    await waitFor(async () => (await job.getState()) === 'completed', 10_000, 50);
    const done = await definition.queue.getJob(job.id!);
    expect(done!.returnvalue).toBe('audited example.com');
    expect(done!.attemptsMade).toBeLessThanOrEqual(1);
    expect(calls).toHaveLength(1);
    // Every refusal left the attempt count alone.
    expect(refusals.every((r) => r.attemptsMade === 0)).toBe(true);
    await definition.close();
  });
});
