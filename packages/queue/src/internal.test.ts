import { InvalidArgumentError } from '@platform/redis';
import { uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { PayloadValidationError } from './errors';
import { checkPayloadSize, parsedEnqueueOf } from './internal';
import { readJobStats } from './job-stats';
import { useQueueTestContext } from './test-support';

const { redis, prefixes } = useQueueTestContext();
const topicSchema = z.object({ topic: z.string().min(3) });

function testQueue(fairness: 'none' | 'per-tenant' = 'none') {
  const prefix = uniquePrefix('qi');
  prefixes.push(prefix);
  return defineQueue({ namespace: 'agent', name: 'internal', schema: topicSchema, prefix, connection: redis, fairness });
}

describe('parsedEnqueueOf (@platform/queue/internal)', () => {
  it.each(['none', 'per-tenant'] as const)(
    "enqueues already validated data without the queue's zod pass; enqueue itself still validates (fairness %s)",
    async (fairness) => {
      const queue = testQueue(fairness);
      const parsed = parsedEnqueueOf(queue, topicSchema)!;
      expect(parsed).toBeInstanceOf(Function);
      const parse = jest.spyOn(queue.payloadSchema, 'safeParse');
      try {
        const job = await parsed({ tenantId: 'acme', topic: 'Redis at scale' }, { jobId: 'parsed-1' });
        expect(parse).not.toHaveBeenCalled();
        expect(job.id).toBe('parsed-1');
        expect((await queue.getJob('parsed-1'))?.data).toEqual({ tenantId: 'acme', topic: 'Redis at scale' });
        // The public enqueue: one pass, and an invalid payload is refused as before.
        await queue.enqueue({ tenantId: 'acme', topic: 'Lua' }, { jobId: 'public-1' });
        expect(parse).toHaveBeenCalledTimes(1);
        await expect(queue.enqueue({ tenantId: 'acme', topic: 'x' })).rejects.toBeInstanceOf(PayloadValidationError);
      } finally {
        parse.mockRestore();
        await queue.obliterate({ force: true });
        await queue.close();
      }
    },
  );

  it('keeps the job options check (as a rejection) and the job statistics', async () => {
    const queue = testQueue();
    const parsed = parsedEnqueueOf(queue, topicSchema)!;
    try {
      const refused = parsed({ tenantId: 'acme', topic: 'Redis' }, { jobId: '42' });
      await expect(refused).rejects.toBeInstanceOf(InvalidArgumentError);
      await parsed({ tenantId: 'acme', topic: 'Redis' });
      await parsed({ tenantId: 'acme', topic: 'Redis' }, { jobName: 'named', jobId: 'named-1' });
      expect((await queue.getJob('named-1'))?.name).toBe('named');
      await queue.close(); // flushes the statistics
      const slots = await readJobStats(redis, queue.name, { prefix: queue.settings.prefix });
      expect(slots.reduce((sum, slot) => sum + (slot.tenants.get('acme')?.enqueued ?? 0), 0)).toBe(2);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('is undefined for another schema and for a wrapper of a definition (the caller then uses its enqueue)', async () => {
    const queue = testQueue();
    try {
      expect(parsedEnqueueOf(queue, z.object({ topic: z.string().min(3) }))).toBeUndefined();
      expect(parsedEnqueueOf({ ...queue }, topicSchema)).toBeUndefined();
    } finally {
      await queue.close();
    }
  });

  it('checkPayloadSize is the bound enqueue applies', () => {
    expect(() => checkPayloadSize('q', { tenantId: 'acme', topic: 'x'.repeat(100) }, 64)).toThrow(/64/);
    expect(() => checkPayloadSize('q', { tenantId: 'acme', topic: 'x' }, 64)).not.toThrow();
  });
});
