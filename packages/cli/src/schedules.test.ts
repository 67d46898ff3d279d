import { defineQueue, createRedisConnection, loadRedisConfig, tenantSchedules } from '@platform/queue';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { runMain } from './test-support';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const prefix = uniquePrefix('clisch');
const queue = defineQueue({ namespace: 'agent', name: 'reports', schema: z.object({ r: z.string() }), prefix, connection: redis });

afterAll(async () => {
  await queue.close();
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
});

const cli = runMain;

describe('platform schedules list', () => {
  it('lists the tenant schedules of every queue, or of one tenant, and refuses a bad tenant id', async () => {
    await tenantSchedules.schedule(queue, 'acme', 'daily', { every: 86_400_000 }, { r: 'a' });
    await tenantSchedules.schedule(queue, 'globex', 'weekly', { pattern: '0 6 * * 1', tz: 'Europe/Berlin' }, { r: 'g' });

    const all = await cli(['schedules', 'list', '--prefix', prefix, '--json']);
    expect(all.code).toBe(0);
    const parsed = JSON.parse(all.stdout) as { schedules: Array<{ queue: string; tenantId: string; scheduleId: string; every?: number; pattern?: string; tz?: string }> };
    expect(parsed.schedules.map((s) => [s.queue, s.tenantId, s.scheduleId, s.every ?? s.pattern, s.tz])).toEqual([
      ['agent__reports', 'acme', 'daily', 86_400_000, undefined],
      ['agent__reports', 'globex', 'weekly', '0 6 * * 1', 'Europe/Berlin'],
    ]);

    const globex = await cli(['schedules', 'list', '--prefix', prefix, '--tenant', 'globex']);
    expect(globex.code).toBe(0);
    expect(globex.stdout).toMatch(/agent__reports\s+globex\s+weekly\s+0 6 \* \* 1 \(Europe\/Berlin\)/);
    expect(globex.stdout).not.toContain('acme');

    const bad = await cli(['schedules', 'list', '--prefix', prefix, '--tenant', 'a:b']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tenant');
  });

  it('only reads: the queues\' meta hashes are left as they were', async () => {
    const meta = `${prefix}:agent__reports:meta`;
    await tenantSchedules.schedule(queue, 'initech', 'hourly', { every: 3_600_000 }, { r: 'i' });
    // As a service on another BullMQ release with its own event stream cap would have left it.
    await redis.hset(meta, 'opts.maxLenEvents', '50', 'version', 'bullmq:5.0.0');
    const before = await redis.hgetall(meta);
    const listed = await cli(['schedules', 'list', '--prefix', prefix, '--tenant', 'initech']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('hourly');
    expect(await redis.hgetall(meta)).toEqual(before);
  });
});
