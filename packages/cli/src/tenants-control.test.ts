import { defineQueue, createRedisConnection, getTenantAudit, getTenantLimits, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { parseDuration, parseRate } from './commands/tenants-control';
import { runMain } from './test-support';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const prefix = uniquePrefix('clitc');
const schema = z.object({ r: z.string() });
const fair = defineQueue({ namespace: 'agent', name: 'writer', schema, prefix, connection: redis, fairness: { maxActivePerTenant: 4 } });
const other = defineQueue({ namespace: 'agent', name: 'reader', schema, prefix, connection: redis, fairness: 'per-tenant' });
const plain = defineQueue({ namespace: 'agent', name: 'plain', schema, prefix, connection: redis });

afterAll(async () => {
  await Promise.all([fair.close(), other.close(), plain.close()]);
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
});

const cli = runMain;

describe('platform tenants pause|resume|set-limits|reset', () => {
  it('writes the controls the queue API reads, with an audit entry per change', async () => {
    // Producers register their fair queues in Redis; the CLI knows queues by name.
    await fair.enqueue({ tenantId: 'acme', r: 'x' });
    await other.enqueue({ tenantId: 'acme', r: 'x' });

    const paused = await cli(['tenants', 'pause', 'acme', '--queue', 'agent__writer', '--for', '10m', '--actor', 'oncall', '--prefix', prefix, '--json']);
    expect(paused.code).toBe(0);
    const { changes } = JSON.parse(paused.stdout) as { changes: Array<{ queue: string; action: string; current: { untilMs: number; by: string } }> };
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ queue: 'agent__writer', action: 'pause', current: { by: 'oncall' } });
    const limits = await getTenantLimits(fair, 'acme');
    expect(limits.paused?.by).toBe('oncall');
    expect(limits.paused!.untilMs! - limits.paused!.atMs).toBe(600_000);

    const resumed = await cli(['tenants', 'resume', 'acme', '--all', '--actor', 'oncall', '--prefix', prefix]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/agent__writer\s+acme\s+resume\s+resumed/);
    expect(resumed.stdout).toMatch(/agent__reader\s+acme\s+resume\s+was not paused/);
    expect((await getTenantLimits(fair, 'acme')).paused).toBeUndefined();

    const set = await cli(['tenants', 'set-limits', 'acme', '--queue', 'agent__writer', '--max-active', '1', '--rate', '100/1m', '--prefix', prefix, '--actor', 'oncall']);
    expect(set.code).toBe(0);
    const overridden = await getTenantLimits(fair, 'acme');
    expect(overridden.maxActive).toEqual({ value: 1, source: 'override' });
    expect(overridden.rate).toEqual({ value: { max: 100, durationMs: 60_000 }, source: 'override' });

    const reset = await cli(['tenants', 'reset', 'acme', '--queue', 'agent__writer', '--prefix', prefix, '--json', '--actor', 'oncall']);
    expect(reset.code).toBe(0);
    expect((await getTenantLimits(fair, 'acme')).maxActive).toEqual({ value: 4, source: 'code' });

    const audit = await getTenantAudit(fair, { tenantId: 'acme' });
    expect(audit.map((e) => [e.action, e.by])).toEqual([
      ['reset', 'oncall'],
      ['set-limits', 'oncall'],
      ['resume', 'oncall'],
      ['pause', 'oncall'],
    ]);
  });

  it('refuses a queue without fair scheduling (exit 2, JSON with --json) and bad arguments', async () => {
    await plain.enqueue({ tenantId: 'acme', r: 'x' });
    const refused = await cli(['tenants', 'pause', 'acme', '--queue', 'agent__plain', '--prefix', prefix, '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'FAIRNESS_REQUIRED', queue: 'agent__plain' } });
    const text = await cli(['tenants', 'reset', 'acme', '--queue', 'agent__plain', '--prefix', prefix]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain("fairness: 'per-tenant'");

    expect((await cli(['tenants', 'pause', 'acme', '--prefix', prefix])).code).toBe(2);
    expect((await cli(['tenants', 'pause', 'a:b', '--all', '--prefix', prefix])).code).toBe(2);
    expect((await cli(['tenants', 'set-limits', 'acme', '--queue', 'agent__writer', '--prefix', prefix])).code).toBe(2);
    expect((await cli(['tenants', 'set-limits', 'acme', '--queue', 'agent__writer', '--weight', '0', '--prefix', prefix])).code).toBe(2);
    expect((await cli(['tenants', 'pause', 'acme', '--all', '--for', 'soon', '--prefix', prefix])).code).toBe(2);
  });

  it('parses durations and rates', () => {
    expect(parseDuration('--for', '500ms')).toBe(500);
    expect(parseDuration('--for', '1.5h')).toBe(5_400_000);
    expect(() => parseDuration('--for', '0s')).toThrow(/--for/);
    expect(parseRate('10/30s')).toEqual({ max: 10, durationMs: 30_000 });
    expect(parseRate('none')).toBeNull();
    expect(() => parseRate('10')).toThrow(/--rate/);
  });
});
