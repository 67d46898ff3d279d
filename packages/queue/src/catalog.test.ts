import { InvalidArgumentError } from '@platform/redis';
import { uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { agentQueue, notificationQueue, ragIngestionQueue } from './catalog';
import { defineQueue } from './define-queue';
import { FairnessRequiredError } from './errors';
import { pauseTenant, resumeTenant } from './fairness/controls';
import { useQueueTestContext } from './test-support';

const { redis, prefixes } = useQueueTestContext();

function prefix(): string {
  const p = uniquePrefix('cat');
  prefixes.push(p);
  return p;
}

describe('catalog queues: fair by default', () => {
  it("agentQueue, ragIngestionQueue and notificationQueue are 'per-tenant' without options and with other options", () => {
    const p = prefix();
    expect(agentQueue('blog-writer', { connection: redis, prefix: p }).settings.fairness).toBe('per-tenant');
    expect(ragIngestionQueue({ connection: redis, prefix: p }).settings.fairness).toBe('per-tenant');
    expect(notificationQueue('email', { connection: redis, prefix: p }).settings.fairness).toBe('per-tenant');
    expect(agentQueue('blog-writer', { connection: redis, prefix: p, timeouts: { hardMs: 60_000 } }).settings.fairness).toBe('per-tenant');
  });

  it("fairness: 'none' opts out (plain BullMQ FIFO); explicit fairness options replace the default", () => {
    const p = prefix();
    expect(agentQueue('blog-writer', { connection: redis, prefix: p, fairness: 'none' }).settings.fairness).toBe('none');
    expect(ragIngestionQueue({ connection: redis, prefix: p, fairness: 'none' }).settings.fairness).toBe('none');
    expect(notificationQueue('sms', { connection: redis, prefix: p, fairness: 'none' }).settings.fairness).toBe('none');
    expect(notificationQueue('sms', { connection: redis, prefix: p, fairness: { window: 5 } }).settings.fairness).toBe('per-tenant');
  });

  it("defineQueue: 'none' is the same as leaving fairness out; anything else unknown is refused", () => {
    const schema = z.object({ n: z.number() });
    const p = prefix();
    expect(defineQueue({ namespace: 'cat', name: 'plain', schema, prefix: p, connection: redis }).settings.fairness).toBe('none');
    expect(defineQueue({ namespace: 'cat', name: 'plain', schema, prefix: p, connection: redis, fairness: 'none' }).settings.fairness).toBe('none');
    expect(() => defineQueue({ namespace: 'cat', name: 'bad', schema, prefix: p, connection: redis, fairness: 'fifo' as never })).toThrow(InvalidArgumentError);
    expect(() => defineQueue({ namespace: 'cat', name: 'bad', schema, prefix: p, connection: redis, fairness: 'fifo' as never })).toThrow(/'none', 'per-tenant' or an object/);
  });

  it('a catalog queue takes tenant controls with no option; its opt-out refuses them with FairnessRequiredError', async () => {
    const p = prefix();
    const fair = agentQueue('controlled', { connection: redis, prefix: p });
    const plain = agentQueue('controlled', { connection: redis, prefix: p, fairness: 'none' });
    try {
      await pauseTenant(fair, 'acme');
      const job = await fair.enqueue({ tenantId: 'acme', activityId: 'a1' });
      // A paused tenant's job waits in the fair backlog: not handed to BullMQ.
      expect(await (await fair.getJob(job.id!))?.getState()).toBe('pending');
      expect((await fair.counts()).pending).toBe(1);
      await resumeTenant(fair, 'acme');
      await expect(pauseTenant(plain, 'acme')).rejects.toBeInstanceOf(FairnessRequiredError);
    } finally {
      await fair.obliterate({ force: true });
      await fair.close();
      await plain.close();
    }
  });
});
