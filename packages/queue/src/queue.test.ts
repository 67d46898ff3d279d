import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { uniquePrefix, deleteKeysByPrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import {
  createWorker,
  defineQueue,
  PayloadTooLargeError,
  PayloadValidationError,
  queueName,
  QueueNameError,
} from './index';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefixes: string[] = [];

function testQueue(schema = z.object({ topic: z.string() }), extra: { maxPayloadBytes?: number } = {}) {
  const prefix = uniquePrefix('q');
  prefixes.push(prefix);
  return defineQueue({ namespace: 'agent', name: 'blog-writer', schema, prefix, connection: redis, ...extra });
}

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

describe('queueName', () => {
  it('joins namespace and name with a double underscore', () => {
    expect(queueName('agent', 'blog-writer')).toBe('agent__blog-writer');
    expect(queueName('rag', 'ingestion')).toBe('rag__ingestion');
  });

  it.each([
    ['agent', 'a:b'],
    ['a:b', 'x'],
    ['', 'x'],
    ['agent', ''],
    ['agent', 'with space'],
    ['agent', 'ümlaut'],
    ['agent', 'a__b'],
  ])('rejects %j / %j with QueueNameError', (namespace, name) => {
    expect(() => queueName(namespace, name)).toThrow(QueueNameError);
  });
});

describe('defineQueue + createWorker', () => {
  it('processes an enqueued job within a timeout (the platform document case)', async () => {
    const definition = testQueue();
    const seen: Array<{ tenantId: string; topic: string }> = [];
    const worker = createWorker(
      definition,
      async (job, ctx) => {
        seen.push({ tenantId: ctx.tenantId, topic: job.data.topic });
        return 'done';
      },
      { connection: workerConnection, handleSignals: false },
    );
    const job = await definition.enqueue({ tenantId: 'acme', topic: 'redis' });
    await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'completed', 10_000);
    expect(seen).toEqual([{ tenantId: 'acme', topic: 'redis' }]);
    await worker.close();
    await definition.close();
  });

  it('rejects a payload without tenantId, listing every issue, and enqueues nothing', async () => {
    const definition = testQueue();
    const error = await definition
      .enqueue({ topic: 42 } as unknown as { tenantId: string; topic: string })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadValidationError);
    const issues = (error as PayloadValidationError).issues.map((i) => i.path).sort();
    expect(issues).toEqual(['tenantId', 'topic']);
    expect((error as Error).message).toMatch(/agent__blog-writer/);
    const counts = await definition.queue.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    await definition.close();
  });

  it('rejects a tenant id containing ":"', async () => {
    const definition = testQueue();
    await expect(definition.enqueue({ tenantId: 'a:b', topic: 'x' })).rejects.toBeInstanceOf(PayloadValidationError);
    await definition.close();
  });

  it('rejects an oversized payload before anything is written', async () => {
    const definition = testQueue(z.object({ topic: z.string() }), { maxPayloadBytes: 1024 });
    await expect(definition.enqueue({ tenantId: 'acme', topic: 'x'.repeat(2000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    const counts = await definition.queue.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    const keys = await redis.keys(`${definition.settings.prefix}:*`);
    expect(keys.filter((k) => !k.endsWith(':meta'))).toEqual([]);
    await definition.close();
  });

  it('enqueueBulk validates every payload first: one bad payload enqueues none', async () => {
    const definition = testQueue();
    await expect(
      definition.enqueueBulk([
        { tenantId: 'acme', topic: 'a' },
        { tenantId: 'acme' } as unknown as { tenantId: string; topic: string },
      ]),
    ).rejects.toThrow(/payload #1/);
    expect((await definition.queue.getJobCounts()).waiting).toBe(0);
    const jobs = await definition.enqueueBulk([
      { tenantId: 'acme', topic: 'a' },
      { tenantId: 'globex', topic: 'b' },
    ]);
    expect(jobs).toHaveLength(2);
    expect((await definition.queue.getJobCounts()).waiting).toBe(2);
    await definition.close();
  });
});
