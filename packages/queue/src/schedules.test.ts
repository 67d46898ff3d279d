import { closeSharedConnections, createRedisConnection, InvalidArgumentError, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { PayloadValidationError } from './errors';
import { parseTenantSchedulerId, tenantSchedulerId, tenantSchedules } from './schedules';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const prefix = uniquePrefix('qsch');
const schema = z.object({ report: z.string() });
const reports = defineQueue({ namespace: 'agent', name: 'reports', schema, prefix, connection: redis });
const digests = defineQueue({ namespace: 'agent', name: 'digests', schema, prefix, connection: redis });

afterAll(async () => {
  await reports.close();
  await digests.close();
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await closeSharedConnections();
});

describe('tenant schedules', () => {
  it('encodes tenant and schedule id without ":" and splits them back unambiguously', () => {
    const id = tenantSchedulerId('a.b@c-d', 'weekly_1.x');
    expect(id).not.toContain(':');
    expect(parseTenantSchedulerId(id)).toEqual({ tenantId: 'a.b@c-d', scheduleId: 'weekly_1.x' });
    // Ids that would join to the same string with a plain separator stay apart.
    expect(tenantSchedulerId('a-b', 'c')).not.toBe(tenantSchedulerId('a', 'b-c'));
    expect(parseTenantSchedulerId('some-other-scheduler')).toBeUndefined();
  });

  it('schedules, lists per tenant, removes one and removes all of a tenant across queues', async () => {
    const s1 = await tenantSchedules.schedule(reports, 'acme', 'daily', { every: 86_400_000 }, { report: 'sales' });
    expect(s1).toMatchObject({ queueName: 'agent__reports', tenantId: 'acme', scheduleId: 'daily', every: 86_400_000 });
    await tenantSchedules.schedule(reports, 'globex', 'daily', { pattern: '0 6 * * 1', tz: 'Europe/Berlin' }, { report: 'x' });
    await tenantSchedules.schedule(digests, 'acme', 'weekly', { pattern: '0 7 * * 1' }, { report: 'digest' });
    // A plain BullMQ scheduler on the same queue is not a tenant schedule.
    await reports.queue.upsertJobScheduler('maintenance', { every: 3_600_000 }, { name: 'm', data: { tenantId: 'ops', report: 'm' } });

    const acme = await tenantSchedules.list(reports, 'acme');
    expect(acme.map((s) => [s.tenantId, s.scheduleId])).toEqual([['acme', 'daily']]);
    const all = await tenantSchedules.list(reports);
    expect(all.map((s) => [s.tenantId, s.scheduleId, s.pattern ?? s.every, s.tz])).toEqual([
      ['acme', 'daily', 86_400_000, undefined],
      ['globex', 'daily', '0 6 * * 1', 'Europe/Berlin'],
    ]);
    // The scheduler's first job carries the validated payload with the tenant.
    const delayed = await reports.queue.getDelayed();
    expect(delayed.map((job) => job.data).filter((d) => d.tenantId === 'globex')).toEqual([{ tenantId: 'globex', report: 'x' }]);

    expect(await tenantSchedules.remove(reports, 'globex', 'daily')).toBe(true);
    expect(await tenantSchedules.remove(reports, 'globex', 'daily')).toBe(false);
    expect(await tenantSchedules.removeAll('acme', [reports, digests])).toBe(2);
    expect(await tenantSchedules.list(reports)).toEqual([]);
    expect(await tenantSchedules.list(digests)).toEqual([]);
    expect((await reports.queue.getJobSchedulers()).map((s) => s.key)).toEqual(['maintenance']);
  });

  it('validates ids, repeat and payload with typed errors before anything is written', async () => {
    const before = await reports.queue.getJobSchedulersCount();
    await expect(tenantSchedules.schedule(reports, 'ac:me', 'x', { every: 1000 }, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'a+b', { every: 1000 }, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', { every: 0 }, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', {} as never, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', { every: 1000 }, { report: 42 } as never)).rejects.toThrow(
      PayloadValidationError,
    );
    expect(await reports.queue.getJobSchedulersCount()).toBe(before);
  });

  it('refuses a cron pattern or time zone BullMQ cannot parse with an InvalidArgumentError, writing nothing', async () => {
    const before = await reports.queue.getJobSchedulersCount();
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', { pattern: 'not a cron' }, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', { pattern: '0 0 30 2 *' }, { report: 'r' })).rejects.toThrow(InvalidArgumentError);
    await expect(tenantSchedules.schedule(reports, 'acme', 'x', { pattern: '0 6 * * 1', tz: 'Nowhere/Atlantis' }, { report: 'r' })).rejects.toThrow(
      /repeat\.tz/,
    );
    expect(await reports.queue.getJobSchedulersCount()).toBe(before);
  });
});
