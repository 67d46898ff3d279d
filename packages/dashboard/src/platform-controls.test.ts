import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisConnection, defineConcurrencyPool, defineQueue, getTenantAudit, getTenantLimits, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { createDashboard } from './handler';
import { platformTenantControls } from './platform-controls';
import { httpCall } from './test-fixture';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const ADMIN = 'admin-token-0123456789abcdef';
const prefix = uniquePrefix('dashctl');
const schema = z.object({ n: z.number() });
const writer = defineQueue({ namespace: 'agent', name: 'writer', schema, prefix, connection: redis, fairness: 'per-tenant' });
const reader = defineQueue({ namespace: 'agent', name: 'reader', schema, prefix, connection: redis, fairness: { maxActivePerTenant: 5 } });
const pool = defineConcurrencyPool({ name: `${prefix}-llm`, max: 4, perTenant: 2 });
let server: Server;
let base: string;

function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return httpCall(base, path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...init.headers } });
}

async function post(path: string, body: Record<string, unknown>) {
  const csrfReply = await call('/api/csrf');
  const cookie = String(csrfReply.headers['set-cookie']).split(';')[0]!;
  const csrf = (JSON.parse(csrfReply.body) as { token: string }).token;
  return call(path, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  // Producers register their fair queues; the dashboard finds them by prefix.
  await writer.enqueue({ tenantId: 'acme', n: 1 });
  await reader.enqueue({ tenantId: 'acme', n: 1 });
  const handler = createDashboard({
    redis,
    prefix,
    env: {},
    token: ADMIN,
    cacheMs: 0,
    jobs: false,
    controls: platformTenantControls({ redis, prefix }),
    pools: [pool],
  });
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await Promise.all([writer.close(), reader.close()]);
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.del(pool.key);
  await redis.quit();
});

describe('platformTenantControls: the dashboard buttons drive @platform/queue runtime controls', () => {
  it('pause and resume, on one queue or on every fair queue, audited as the dashboard', async () => {
    expect((await post('/tenants/acme/pause', { queue: writer.name, forMinutes: 5 })).status).toBe(200);
    const paused = await getTenantLimits(writer, 'acme');
    expect(paused.paused).toMatchObject({ by: 'dashboard' });
    expect(paused.paused!.untilMs! - paused.paused!.atMs).toBe(300_000);
    expect((await getTenantLimits(reader, 'acme')).paused).toBeUndefined();
    const tenants = JSON.parse((await call('/api/tenants?q=acme')).body) as { rows: Array<{ tenantId: string; control?: { paused: boolean; pausedQueues?: string[] } }> };
    expect(tenants.rows.find((r) => r.tenantId === 'acme')?.control).toMatchObject({ paused: true, pausedQueues: [writer.name] });

    // No queue: every fair queue of the prefix.
    expect((await post('/tenants/acme/pause', {})).status).toBe(200);
    expect((await getTenantLimits(reader, 'acme')).paused).toBeDefined();
    expect((await post('/tenants/acme/resume', {})).status).toBe(200);
    expect((await getTenantLimits(writer, 'acme')).paused).toBeUndefined();
    expect((await getTenantLimits(reader, 'acme')).paused).toBeUndefined();
    const audit = await getTenantAudit([writer, reader], { tenantId: 'acme' });
    expect(audit.every((e) => e.by === 'dashboard')).toBe(true);
    expect(audit.filter((e) => e.action === 'pause')).toHaveLength(3);
  });

  it('sets and resets limits; the tenant state shows the overrides', async () => {
    expect((await post('/tenants/acme/limits', { queue: reader.name, maxActive: 2, maxPending: 50 })).status).toBe(200);
    const limits = await getTenantLimits(reader, 'acme');
    expect(limits.maxActive).toEqual({ value: 2, source: 'override' });
    expect(limits.maxPending).toEqual({ value: 50, source: 'override' });
    const state = await platformTenantControls({ redis, prefix }).getTenantState('acme');
    expect(state).toEqual({ tenantId: 'acme', paused: false, overrides: { maxActive: 2, maxPending: 50 } });
    expect((await post('/tenants/acme/limits/reset', { queue: reader.name })).status).toBe(200);
    expect((await getTenantLimits(reader, 'acme')).maxActive).toEqual({ value: 5, source: 'code' });
  });

  it('answers a tenant id or a limit the controls refuse with 400 and their reason, not 500', async () => {
    const badTenant = await post(`/tenants/${encodeURIComponent('a:b')}/pause`, {});
    expect(badTenant.status).toBe(400);
    expect(JSON.parse(badTenant.body)).toEqual({ error: expect.stringContaining('tenantId') });
    const badWeight = await post('/tenants/acme/limits', { queue: reader.name, weight: 5000 });
    expect(badWeight.status).toBe(400);
    expect(JSON.parse(badWeight.body)).toEqual({ error: expect.stringContaining('weight') });
    expect((await getTenantLimits(reader, 'acme')).weight).toEqual({ value: 1, source: 'code' });
  });

  it('the overview shows the usage of the given concurrency pools', async () => {
    const now = Number((await redis.time())[0]) * 1000;
    await redis.zadd(pool.key, now + 60_000, 'acme|agent__writer|1', now + 60_000, 'acme|agent__reader|2', now + 60_000, 'globex|agent__writer|3');
    const overview = JSON.parse((await call('/api/overview')).body) as { pools: Array<{ name: string; active: number; max: number; byTenant: Record<string, number> }> };
    expect(overview.pools).toEqual([{ name: pool.name, max: 4, perTenant: 2, active: 3, byTenant: { acme: 2, globex: 1 } }]);
    const page = await call('/');
    expect(page.body).toContain(`data-pool="${pool.name}"`);
  });
});
