import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisConnection, defineConcurrencyPool, defineQueue, loadRedisConfig } from '@platform/queue';
import { ConfigError, InvalidArgumentError } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { Queue } from 'bullmq';
import express from 'express';
import Fastify from 'fastify';
import { z } from 'zod';
import { expressDashboard, fastifyDashboard } from './adapters';
import { CSRF_COOKIE } from './auth';
import { createDashboard, type DashboardHandler } from './handler';
import type { DashboardOptions } from './options';
import { httpCall, redisKeyControls, seedThreeTenants, type SeededFixture } from './test-fixture';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerRedis = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const SCOPED = 'scoped-token-0123456789abcdef';
const roots: string[] = [];
const servers: Array<{ close(): Promise<void> }> = [];

const call = httpCall;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function listen(handler: DashboardHandler): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await handler.close();
    },
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function options(fixture: SeededFixture, extra: DashboardOptions = {}): DashboardOptions {
  return { redis, keyPrefix: fixture.keyRoot, cacheMs: 0, env: {}, ...extra };
}

/** A page's CSRF cookie and token, as a browser would get them. */
async function csrfFor(base: string, token: string): Promise<{ cookie: string; csrf: string }> {
  const reply = await call(base, '/api/csrf', { headers: bearer(token) });
  const cookie = String(reply.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: (JSON.parse(reply.body) as { token: string }).token };
}

let fixture: SeededFixture;
let base: string;

beforeAll(async () => {
  fixture = await seedThreeTenants(redis, workerRedis);
  roots.push(fixture.keyRoot);
  base = await listen(
    createDashboard(
      options(fixture, {
        token: ADMIN,
        viewerToken: VIEWER,
        controls: redisKeyControls(redis, fixture.keyRoot),
      }),
    ),
  );
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.close();
  for (const root of roots) await deleteKeysByPrefix(redis, `${root}:`);
  await redis.quit();
  await workerRedis.quit();
});

describe('authentication', () => {
  it('refuses to start without any authentication configured', () => {
    expect(() => createDashboard({ redis, env: {} })).toThrow(ConfigError);
    expect(() => createDashboard({ redis, env: {} })).toThrow(/PLATFORM_DASHBOARD_TOKEN/);
    expect(() => createDashboard({ redis, env: { PLATFORM_DASHBOARD_TOKEN: 'short' } })).toThrow(/at least 16/);
  });

  it('refuses a queue name BullMQ cannot open when created, not on every request', async () => {
    for (const queues of [['agent__blog-writer', 'agent:writer'], ['']]) {
      expect(() => createDashboard({ redis, env: {}, token: ADMIN, queues })).toThrow(InvalidArgumentError);
      expect(() => createDashboard({ redis, env: {}, token: ADMIN, queues })).toThrow(/queues/);
    }
  });

  it('answers 401 to every path without a valid token, and never shows data', async () => {
    for (const path of ['/', '/tenants', '/tenants/acme', '/api/overview', '/api/tenants', '/jobs', '/jobs/api/queues', '/assets/dashboard.js']) {
      const none = await call(base, path);
      expect([path, none.status]).toEqual([path, 401]);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect(none.body).not.toContain('acme');
      const wrong = await call(base, path, { headers: bearer(`${ADMIN}x`) });
      expect([path, wrong.status]).toEqual([path, 401]);
    }
    const post = await call(base, '/tenants/acme/pause', { method: 'POST' });
    expect(post.status).toBe(401);
  });

  it('accepts the token as Bearer or as the password of Basic', async () => {
    expect((await call(base, '/api/overview', { headers: bearer(ADMIN) })).status).toBe(200);
    const basic = Buffer.from(`anyone:${VIEWER}`).toString('base64');
    const reply = await call(base, '/api/whoami', { headers: { authorization: `Basic ${basic}` } });
    expect(JSON.parse(reply.body)).toEqual({ role: 'viewer' });
  });

  it('reads PLATFORM_DASHBOARD_TOKEN from the environment', async () => {
    const url = await listen(createDashboard({ ...options(fixture), env: { PLATFORM_DASHBOARD_TOKEN: ADMIN } }));
    expect((await call(url, '/api/whoami', { headers: bearer(ADMIN) })).status).toBe(200);
    expect((await call(url, '/api/whoami')).status).toBe(401);
  });
});

describe('figures', () => {
  it('shows every queue with its counts and states', async () => {
    const reply = await call(base, '/api/overview', { headers: bearer(VIEWER) });
    const overview = JSON.parse(reply.body) as { queues: Array<{ name: string; status: string; counts: Record<string, number>; throughput: Record<string, number> }>; redis: { checks: unknown[] } };
    const byName = Object.fromEntries(overview.queues.map((q) => [q.name, q]));
    expect(Object.keys(byName).sort()).toEqual(['agent__blog-writer', 'notifications__email', 'rag__ingestion']);
    expect(byName['agent__blog-writer']!.counts).toMatchObject({ waiting: 10, delayed: 2, failed: 0, completed: 0 });
    expect(byName['rag__ingestion']!.counts).toMatchObject({ waiting: 2, failed: 2, completed: 2 });
    expect(byName['notifications__email']!.counts).toMatchObject({ waiting: 0, failed: 1, completed: 2 });
    expect(byName['rag__ingestion']!.throughput).toEqual({ completedLastMinute: 2, completedLastHour: 2, failedLastHour: 2, heldByFairScheduler: 0 });
    expect(byName['agent__blog-writer']!.status).toBe('OK');
    expect(overview.redis.checks.length).toBeGreaterThan(5);
    expect((overview as unknown as { providers: unknown[] }).providers).toEqual([expect.objectContaining({ channel: 'email', provider: 'smtp', state: 'open', consecutiveFailures: 5, trips: 1 })]);
    const page = await call(base, '/', { headers: { ...bearer(VIEWER), accept: 'text/html' } });
    expect(page.body).toContain('<a href="/tenants/acme">acme</a> 6, <a href="/tenants/globex">globex</a> 3, <a href="/tenants/initech">initech</a> 1');
  });

  it('shows the providers\u2019 breakers when a key under notify-circuit: is not one of them', async () => {
    // Not written by a breaker (those check the provider name): another program's key, an old format.
    const stray = `${fixture.keyRoot}:notify-circuit:email:not a provider`;
    await redis.hset(stray, 'state', 'open');
    try {
      const url = await listen(createDashboard(options(fixture, { token: ADMIN, jobs: false })));
      const reply = await call(url, '/api/overview', { headers: bearer(ADMIN) });
      expect(reply.status).toBe(200);
      const { providers } = JSON.parse(reply.body) as { providers: Array<{ channel: string; provider: string }> };
      expect(providers.map((p) => `${p.channel}/${p.provider}`)).toEqual(['email/smtp']);
    } finally {
      await redis.del(stray);
    }
  });

  it('shows each tenant across queues, sorted and searched', async () => {
    const all = JSON.parse((await call(base, '/api/tenants?sort=backlog&dir=desc', { headers: bearer(VIEWER) })).body) as {
      total: number;
      exact: boolean;
      rows: Array<{ tenantId: string; backlog: number; waiting: number; delayed: number; failedLastHour: number; completedLastHour: number; control: unknown }>;
    };
    expect(all.exact).toBe(true);
    expect(all.rows.map((r) => [r.tenantId, r.backlog, r.waiting, r.delayed, r.failedLastHour, r.completedLastHour])).toEqual([
      ['acme', 6, 6, 0, 2, 1],
      ['globex', 5, 5, 0, 1, 2],
      ['initech', 3, 1, 2, 0, 1],
    ]);
    const asc = JSON.parse((await call(base, '/api/tenants?sort=failedLastHour&dir=asc', { headers: bearer(VIEWER) })).body) as { rows: Array<{ tenantId: string }> };
    expect(asc.rows.map((r) => r.tenantId)).toEqual(['initech', 'globex', 'acme']);
    const found = JSON.parse((await call(base, '/api/tenants?q=GLO', { headers: bearer(VIEWER) })).body) as { total: number; rows: Array<{ tenantId: string }> };
    expect(found.rows.map((r) => r.tenantId)).toEqual(['globex']);
  });

  it('shows a tenant: per-queue state, failures with reasons, rate limiters; no payload', async () => {
    const reply = await call(base, '/tenants/acme', { headers: bearer(VIEWER) });
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('provider refused document 0: quota exceeded');
    expect(reply.body).toContain('openai');
    expect(reply.body).toContain('7 used in the current window');
    for (const id of fixture.failed['rag__ingestion']!['acme']!) expect(reply.body).toContain(`data-job="${id}"`);
    expect(reply.body).not.toContain('sk-live-DO-NOT-SHOW');
    expect(reply.body).toContain('data-provider="email:smtp"');
    // A viewer gets no buttons.
    expect(reply.body).not.toContain('data-action="retry"');
    expect(reply.body).not.toContain('pause-button');
    const detail = JSON.parse((await call(base, '/api/tenants/acme', { headers: bearer(VIEWER) })).body) as { row: { queues: Array<{ queue: string; waiting: number }> } };
    expect(detail.row.queues.map((q) => [q.queue, q.waiting])).toEqual([
      ['agent__blog-writer', 6],
      ['rag__ingestion', 0],
    ]);
  });

  it('escapes tenant ids in HTML, attributes and links', async () => {
    const root = uniquePrefix('dash');
    roots.push(root);
    const evil = `"><img src=x onerror=alert(1)>'`;
    const queue = new Queue('agent__raw', { connection: redis, prefix: `${root}:bull` });
    await queue.add('raw', { tenantId: evil });
    await queue.close();
    const url = await listen(createDashboard({ redis, prefix: `${root}:bull`, rateLimitPrefix: `${root}:rl`, token: ADMIN, env: {}, cacheMs: 0 }));
    const page = await call(url, '/tenants', { headers: bearer(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('<img');
    expect(page.body).toContain('&#34;&#62;&#60;img src&#61;x onerror&#61;alert(1)&#62;&#39;');
    expect(page.body).toContain(`href="/tenants/${encodeURIComponent(evil).replace(/'/g, '&#39;')}"`);
    const detail = await call(url, `/tenants/${encodeURIComponent(evil)}`, { headers: bearer(ADMIN) });
    expect(detail.status).toBe(200);
    expect(detail.body).not.toContain('<img');
    expect((await call(url, '/tenants/%E0%A4%A', { headers: bearer(ADMIN) })).status).toBe(400);
  });
});

describe('writes', () => {
  it('refuses every write of a viewer with 403', async () => {
    const { cookie, csrf } = await csrfFor(base, VIEWER);
    for (const action of ['pause', 'resume', 'retry-all', 'limits', 'limits/reset']) {
      const reply = await call(base, `/tenants/acme/${action}`, {
        method: 'POST',
        headers: { ...bearer(VIEWER), cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ queue: 'rag__ingestion' }),
      });
      expect([action, reply.status]).toEqual([action, 403]);
    }
    expect(await redis.exists(`${fixture.keyRoot}:paused:acme`)).toBe(0);
    // bull-board's write routes too.
    const board = await call(base, '/jobs/api/queues/rag__ingestion/retry/failed', { method: 'PUT', headers: bearer(VIEWER) });
    expect(board.status).toBe(403);
  });

  it('refuses a write without a valid CSRF token or from another origin with 403', async () => {
    const { cookie, csrf } = await csrfFor(base, ADMIN);
    const json = { ...bearer(ADMIN), 'content-type': 'application/json' };
    const body = JSON.stringify({});
    expect((await call(base, '/tenants/acme/pause', { method: 'POST', headers: json, body })).status).toBe(403);
    expect((await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, cookie }, body })).status).toBe(403);
    expect((await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, 'x-csrf-token': csrf }, body })).status).toBe(403);
    const other = await csrfFor(base, ADMIN);
    expect((await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': other.csrf }, body })).status).toBe(403);
    // A viewer's token does not work for the admin either (tokens are bound to who is signed in).
    const viewers = await csrfFor(base, VIEWER);
    expect((await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, cookie: viewers.cookie, 'x-csrf-token': viewers.csrf }, body })).status).toBe(403);
    const host = new URL(base).host;
    const crossSite = await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf, origin: 'http://evil.example', host }, body });
    expect(crossSite.status).toBe(403);
    const board = await call(base, '/jobs/api/queues/rag__ingestion/retry/failed', { method: 'PUT', headers: { ...bearer(ADMIN), origin: 'http://evil.example' } });
    expect(board.status).toBe(403);
    expect(await redis.exists(`${fixture.keyRoot}:paused:acme`)).toBe(0);
    // The same request with cookie and token goes through.
    const ok = await call(base, '/tenants/acme/pause', { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf, origin: base }, body });
    expect(ok.status).toBe(200);
    expect(await redis.get(`${fixture.keyRoot}:paused:acme`)).toBe('*');
    const resumed = await call(base, '/tenants/acme/resume', { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf }, body });
    expect(resumed.status).toBe(200);
    expect(await redis.exists(`${fixture.keyRoot}:paused:acme`)).toBe(0);
  });

  it('sets and resets limits through the controls; a form post answers with a redirect', async () => {
    const { cookie, csrf } = await csrfFor(base, ADMIN);
    const form = new URLSearchParams({ _csrf: csrf, queue: 'agent__blog-writer', maxActive: '2', weight: '', maxPending: '' }).toString();
    const reply = await call(base, '/tenants/globex/limits', {
      method: 'POST',
      headers: { ...bearer(ADMIN), cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: form,
    });
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe('/tenants/globex?notice=limits-set');
    expect(await redis.hgetall(`${fixture.keyRoot}:limits:globex`)).toEqual({ maxActive: '2' });
    const table = JSON.parse((await call(base, '/api/tenants?q=globex', { headers: bearer(ADMIN) })).body) as { rows: Array<{ control: { overrides: unknown } }> };
    expect(table.rows[0]!.control.overrides).toEqual({ maxActive: 2 });
    const reset = await call(base, '/tenants/globex/limits/reset', {
      method: 'POST',
      headers: { ...bearer(ADMIN), cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(reset.status).toBe(303);
    expect(await redis.exists(`${fixture.keyRoot}:limits:globex`)).toBe(0);
  });

  it('retries one failed job of the tenant, and not another tenant\u2019s job through it', async () => {
    const { cookie, csrf } = await csrfFor(base, ADMIN);
    const headers = { ...bearer(ADMIN), cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
    const globexJob = fixture.failed['notifications__email']!['globex']![0]!;
    const wrongTenant = await call(base, '/tenants/acme/retry', { method: 'POST', headers, body: JSON.stringify({ queue: 'notifications__email', jobId: globexJob }) });
    expect(wrongTenant.status).toBe(404);
    const queue = new Queue('notifications__email', { connection: redis, prefix: fixture.prefix });
    expect(await queue.getJobState(globexJob)).toBe('failed');
    const ok = await call(base, '/tenants/globex/retry', { method: 'POST', headers, body: JSON.stringify({ queue: 'notifications__email', jobId: globexJob }) });
    expect(ok.status).toBe(200);
    expect(await queue.getJobState(globexJob)).toBe('waiting');
    const again = await call(base, '/tenants/globex/retry', { method: 'POST', headers, body: JSON.stringify({ queue: 'notifications__email', jobId: globexJob }) });
    expect(again.status).toBe(409);
    await queue.close();
  });
});

describe('concurrency pool slots per tenant', () => {
  type PoolRow = { tenantId: string; backlog: number; poolSlots: number; pools: Array<{ pool: string; inUse: number; perTenant: number | null }> };
  let poolBase: string;
  let scopedBase: string;

  beforeAll(async () => {
    const pool = defineConcurrencyPool({ name: 'llm', max: 8, perTenant: 4, keyPrefix: fixture.keyRoot });
    const until = Number((await redis.time())[0]) * 1000 + 600_000;
    // initech 3, umbrella 2 (no jobs at all), globex 1, acme none; one expired lease of acme.
    await redis.zadd(pool.key, until, 'initech|agent__blog-writer|i1', until, 'initech|agent__blog-writer|i2', until, 'initech|rag__ingestion|i3');
    await redis.zadd(pool.key, until, 'umbrella|agent__blog-writer|u1', until, 'umbrella|agent__blog-writer|u2', until, 'globex|rag__ingestion|g1', 1, 'acme|rag__ingestion|a1');
    poolBase = await listen(createDashboard(options(fixture, { token: ADMIN, viewerToken: VIEWER, pools: [pool], jobs: false })));
    scopedBase = await listen(
      createDashboard(
        options(fixture, {
          authorize: (request) => (request.headers.authorization === `Bearer ${SCOPED}` ? { role: 'viewer', tenantId: 'initech' } : null),
          pools: [pool],
          jobs: false,
        }),
      ),
    );
  });

  it('adds each tenant\u2019s pool slots to its row, sortable, and shows them in the tenants table', async () => {
    const sorted = JSON.parse((await call(poolBase, '/api/tenants?sort=poolSlots&dir=desc', { headers: bearer(VIEWER) })).body) as { rows: PoolRow[] };
    expect(sorted.rows.map((r) => [r.tenantId, r.poolSlots])).toEqual([
      ['initech', 3],
      ['umbrella', 2],
      ['globex', 1],
      ['acme', 0],
    ]);
    const byId = new Map(sorted.rows.map((r) => [r.tenantId, r]));
    expect(byId.get('initech')!.pools).toEqual([{ pool: 'llm', inUse: 3, perTenant: 4 }]);
    expect(byId.get('acme')!.pools).toEqual([]);
    // A tenant that holds slots without any job still has a row.
    expect(byId.get('umbrella')).toMatchObject({ backlog: 0, poolSlots: 2 });

    const page = await call(poolBase, '/tenants?sort=poolSlots&dir=asc', { headers: bearer(VIEWER) });
    expect(page.body).toContain('data-sort="poolSlots"');
    expect(page.body).toMatch(/<tr data-tenant="initech">[^]*?<td data-field="pool-slots" title="llm 3\/4">3<\/td>/);
    expect(page.body.indexOf('data-tenant="acme"')).toBeLessThan(page.body.indexOf('data-tenant="initech"'));
    // Without pools the column is not there.
    expect((await call(base, '/tenants', { headers: bearer(VIEWER) })).body).not.toContain('data-field="pool-slots"');
  });

  it('shows a tenant-scoped viewer its own slots and never another tenant\u2019s id or figures', async () => {
    const own = JSON.parse((await call(scopedBase, '/api/tenants/initech', { headers: bearer(SCOPED) })).body) as { row: PoolRow; pools: unknown };
    expect(own.row.poolSlots).toBe(3);
    expect(own.row.pools).toEqual([{ pool: 'llm', inUse: 3, perTenant: 4 }]);
    expect(own.pools).toEqual([{ pool: 'llm', perTenant: 4 }]);
    const html = (await call(scopedBase, '/tenants/initech', { headers: bearer(SCOPED) })).body;
    expect(html).toMatch(/<table id="tenant-pools">[^]*<tr data-pool="llm"><td class="text">llm<\/td><td data-field="in-use">3<\/td><td>4<\/td><\/tr>/);
    for (const path of ['/tenants/initech', '/api/tenants/initech', '/api/tenants?sort=poolSlots', '/api/overview', '/']) {
      for (const headers of [bearer(SCOPED), { ...bearer(SCOPED), 'x-dashboard-partial': '1' }]) {
        const body = (await call(scopedBase, path, { headers })).body;
        for (const other of ['acme', 'globex', 'umbrella']) expect([path, other, body.includes(other)]).toEqual([path, other, false]);
        // The pool's total (6 slots held) and per-tenant breakdown are the overview's, admins' only.
        expect([path, /byTenant|"active":6\b/.test(body)]).toEqual([path, false]);
      }
    }
  });
});

describe('a tenant-scoped viewer', () => {
  it('never receives another tenant\u2019s id, count or job', async () => {
    const url = await listen(
      createDashboard(
        options(fixture, {
          authorize: (request) => (request.headers.authorization === `Bearer ${SCOPED}` ? { role: 'viewer', tenantId: 'initech' } : null),
          controls: redisKeyControls(redis, fixture.keyRoot),
        }),
      ),
    );
    // Job ids of the fixture name their tenant, so this covers the other tenants' jobs too.
    const others = ['acme', 'globex'];
    const paths = [
      '/',
      '/tenants',
      '/tenants?q=a',
      '/tenants/initech',
      '/tenants/acme',
      '/tenants/globex',
      '/api/overview',
      '/api/tenants',
      '/api/tenants/initech',
      '/api/tenants/acme',
      '/jobs',
      '/jobs/api/queues',
      '/jobs/api/queues/rag__ingestion',
      '/nothing/here',
      '/assets/dashboard.js',
    ];
    const statuses: Record<string, number> = {};
    for (const path of paths) {
      for (const accept of ['text/html', 'application/json']) {
        const reply = await call(url, path, { headers: { authorization: `Bearer ${SCOPED}`, accept } });
        statuses[path] = reply.status;
        for (const other of others) expect([path, reply.body.includes(other)]).toEqual([path, false]);
      }
      const partial = await call(url, path, { headers: { authorization: `Bearer ${SCOPED}`, 'x-dashboard-partial': '1' } });
      for (const other of others) expect([path, partial.body.includes(other)]).toEqual([path, false]);
    }
    expect(statuses).toMatchObject({
      '/': 303,
      '/tenants': 303,
      '/tenants/initech': 200,
      '/tenants/acme': 403,
      '/api/overview': 403,
      '/api/tenants': 403,
      '/api/tenants/initech': 200,
      '/jobs': 403,
    });
    const own = JSON.parse((await call(url, '/api/tenants/initech', { headers: { authorization: `Bearer ${SCOPED}` } })).body) as { row: { backlog: number } };
    expect(own.row.backlog).toBe(3);
  });
});

describe('bull-board under /jobs', () => {
  it('serves bull-board with the platform queues to admins only', async () => {
    const page = await call(base, '/jobs', { headers: bearer(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<base href="/jobs/"');
    const api = await call(base, '/jobs/api/queues', { headers: bearer(ADMIN) });
    expect(api.status).toBe(200);
    const names = (JSON.parse(api.body) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['agent__blog-writer', 'notifications__email', 'rag__ingestion']);
    expect((await call(base, '/jobs', { headers: bearer(VIEWER) })).status).toBe(403);
  });

  it('reading bull-board leaves the queues\u2019 meta hashes as they were', async () => {
    const meta = `${fixture.prefix}:rag__ingestion:meta`;
    const saved = await redis.hgetall(meta);
    // As a service with its own event stream cap and another BullMQ release left it.
    await redis.hset(meta, 'opts.maxLenEvents', '50', 'version', 'bullmq:5.0.0');
    try {
      const before = await redis.hgetall(meta);
      const url = await listen(createDashboard(options(fixture, { token: ADMIN })));
      expect((await call(url, '/jobs/api/queues', { headers: bearer(ADMIN) })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await redis.hgetall(meta)).toEqual(before);
    } finally {
      await redis.hset(meta, saved);
    }
  });

  it('keeps job payloads out of caches and frames, as the dashboard\u2019s own pages', async () => {
    const jobId = fixture.failed['rag__ingestion']!['acme']![0]!;
    for (const path of ['/jobs', `/jobs/api/queues/rag__ingestion/${jobId}`]) {
      const reply = await call(base, path, { headers: bearer(ADMIN) });
      expect([path, reply.status]).toEqual([path, 200]);
      expect([path, reply.headers['cache-control'], reply.headers['x-frame-options']]).toEqual([path, 'no-store', 'DENY']);
    }
    expect((await call(base, `/jobs/api/queues/rag__ingestion/${jobId}`, { headers: bearer(ADMIN) })).body).toContain('sk-live-DO-NOT-SHOW');
  });
});

describe('bull-board on a fair queue', () => {
  it("'promote' and 'promote all' leave the held backlog to the fair dispatcher and promote what callers delayed", async () => {
    const root = uniquePrefix('dash-fair');
    roots.push(root);
    const fair = defineQueue({ namespace: 'agent', name: 'fair', schema: z.object({ n: z.number() }), prefix: `${root}:bull`, connection: redis, fairness: { window: 1 } });
    try {
      // Window 1 and one job released: every later job stays held, pending for its tenant's turn.
      const released = await fair.enqueue({ tenantId: 'first', n: 0 });
      await waitFor(async () => (await fair.queue.getJobState(released.id!)) === 'waiting', 5000);
      const pending = await fair.enqueueBulk([
        { tenantId: 'acme', n: 1 },
        { tenantId: 'globex', n: 2 },
      ]);
      const delayed = await fair.enqueue({ tenantId: 'acme', n: 3 }, { delay: 3_600_000 });
      const url = await listen(createDashboard({ redis, keyPrefix: root, cacheMs: 0, env: {}, token: ADMIN }));

      const one = await call(url, `/jobs/api/queues/agent__fair/${pending[0]!.id}/promote`, { method: 'PUT', headers: bearer(ADMIN) });
      expect(one.status).toBeGreaterThanOrEqual(400);
      expect(one.body).toContain('pending in the fair backlog');
      const all = await call(url, '/jobs/api/queues/agent__fair/promote', { method: 'PUT', headers: bearer(ADMIN) });
      expect(all.status).toBeLessThan(300);

      expect(await fair.queue.getJobState(delayed.id!)).toBe('waiting');
      for (const job of pending) expect(await (await fair.getJob(job.id!))!.getState()).toBe('pending');
      expect(await fair.counts()).toMatchObject({ pending: 2, waiting: 2, delayed: 0 });
    } finally {
      await fair.obliterate({ force: true });
      await fair.close();
    }
  });
});

describe('adapters', () => {
  it('mounts under a path in Express, passing other paths on', async () => {
    const serve = async (mount: (app: express.Express, middleware: ReturnType<typeof expressDashboard>) => void) => {
      const app = express();
      const middleware = expressDashboard(options(fixture, { token: ADMIN, basePath: '/ops' }));
      mount(app, middleware);
      app.get('/other', (_req, res) => void res.send('other route'));
      const server = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      servers.push({
        close: async () => {
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await middleware.close();
        },
      });
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    // app.use('/ops', ...) and app.use(...) with basePath: both serve /ops, and pass the rest on.
    for (const url of [await serve((app, m) => app.use('/ops', m)), await serve((app, m) => app.use(m))]) {
      expect((await call(url, '/ops/')).status).toBe(401);
      const page = await call(url, '/ops/tenants', { headers: bearer(ADMIN) });
      expect(page.status).toBe(200);
      expect(page.body).toContain('href="/ops/tenants/acme"');
      expect((await call(url, '/ops/jobs/api/queues', { headers: bearer(ADMIN) })).status).toBe(200);
      const other = await call(url, '/other');
      expect([other.status, other.body]).toEqual([200, 'other route']);
    }
  });

  it('registers as a Fastify plugin', async () => {
    const app = Fastify();
    await app.register(fastifyDashboard(options(fixture, { token: ADMIN, basePath: '/ops' })));
    app.get('/other', async () => 'other route');
    await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push({ close: () => app.close() });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect((await call(url, '/ops/tenants')).status).toBe(401);
    const page = await call(url, '/ops/tenants/acme', { headers: bearer(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.body).toContain('quota exceeded');
    const { cookie, csrf } = await csrfFor(`${url}/ops`, ADMIN);
    expect(cookie.startsWith(`${CSRF_COOKIE}=`)).toBe(true);
    const post = await call(url, '/ops/tenants/acme/retry-all', {
      method: 'POST',
      headers: { ...bearer(ADMIN), cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, queue: 'agent__blog-writer' }).toString(),
    });
    expect(post.status).toBe(303);
    expect(post.headers.location).toBe('/ops/tenants/acme?notice=retried-all');
    expect((await call(url, '/other')).body).toBe('other route');
  });

  it('takes a basePath with a trailing slash in Fastify as createDashboard and Express do', async () => {
    const app = Fastify();
    await app.register(fastifyDashboard(options(fixture, { token: ADMIN, basePath: '/ops/', jobs: false })));
    await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push({ close: () => app.close() });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect((await call(url, '/ops/tenants')).status).toBe(401);
    const page = await call(url, '/ops/tenants', { headers: bearer(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.body).toContain('href="/ops/tenants/acme"');
    expect((await call(url, '/ops', { headers: bearer(ADMIN) })).status).toBe(200);
  });
});

describe('fair queues', () => {
  it('counts the jobs the fair scheduler holds back, per tenant and per queue', async () => {
    const root = uniquePrefix('dash');
    roots.push(root);
    const queue = defineQueue({
      namespace: 'fair',
      name: 'jobs',
      schema: z.object({ n: z.number() }),
      prefix: `${root}:bull`,
      connection: redis,
      fairness: { window: 10 },
    });
    await queue.enqueueBulk(Array.from({ length: 30 }, (_, n) => ({ tenantId: 'big', n })));
    await queue.enqueueBulk(Array.from({ length: 4 }, (_, n) => ({ tenantId: 'small', n })));
    await queue.close();
    const url = await listen(createDashboard({ redis, prefix: `${root}:bull`, rateLimitPrefix: `${root}:rl`, token: ADMIN, env: {}, cacheMs: 0 }));
    const table = JSON.parse((await call(url, '/api/tenants?sort=tenantId', { headers: bearer(ADMIN) })).body) as { rows: Array<{ tenantId: string; waiting: number }> };
    expect(table.rows.map((r) => [r.tenantId, r.waiting])).toEqual([
      ['big', 30],
      ['small', 4],
    ]);
    const overview = JSON.parse((await call(url, '/api/overview', { headers: bearer(ADMIN) })).body) as { queues: Array<{ counts: { waiting: number }; throughput: { heldByFairScheduler: number } }> };
    const [fair] = overview.queues;
    expect(fair!.counts.waiting).toBeLessThanOrEqual(10);
    expect(fair!.counts.waiting + fair!.throughput.heldByFairScheduler).toBe(34);
  });
});

describe('paused queues', () => {
  it('shows a paused queue as paused, its jobs still counted per tenant', async () => {
    const root = uniquePrefix('dash');
    roots.push(root);
    const queue = defineQueue({ namespace: 'paused', name: 'jobs', schema: z.object({ n: z.number() }), prefix: `${root}:bull`, connection: redis });
    await queue.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: 2 }, { tenantId: 'globex', n: 3 }]);
    await queue.queue.pause();
    await queue.close();
    const url = await listen(createDashboard({ redis, prefix: `${root}:bull`, rateLimitPrefix: `${root}:rl`, token: ADMIN, env: {}, cacheMs: 0 }));
    const overview = JSON.parse((await call(url, '/api/overview', { headers: bearer(ADMIN) })).body) as { queues: Array<{ paused: boolean; counts: { waiting: number } }> };
    expect(overview.queues.map((q) => [q.paused, q.counts.waiting])).toEqual([[true, 3]]);
    const table = JSON.parse((await call(url, '/api/tenants', { headers: bearer(ADMIN) })).body) as { rows: Array<{ tenantId: string; waiting: number }> };
    expect(table.rows.map((r) => [r.tenantId, r.waiting])).toEqual([
      ['acme', 2],
      ['globex', 1],
    ]);
    expect((await call(url, '/', { headers: bearer(ADMIN) })).body).toContain('PAUSED');
  });
});

describe('the key prefix', () => {
  it('finds queues and rate limiter keys under REDIS_KEY_PREFIX', async () => {
    const root = uniquePrefix('dash');
    roots.push(root);
    const queue = defineQueue({ namespace: 'prefixed', name: 'jobs', schema: z.object({ n: z.number() }), prefix: `${root}:bull`, connection: redis });
    await queue.enqueue({ tenantId: 'acme', n: 1 });
    await queue.close();
    await redis.set(`${root}:ratelimit:acme:semrush`, '3', 'PX', 60_000);
    const url = await listen(createDashboard({ redis, token: ADMIN, env: { REDIS_KEY_PREFIX: root }, cacheMs: 0 }));
    const overview = JSON.parse((await call(url, '/api/overview', { headers: bearer(ADMIN) })).body) as { queues: Array<{ name: string; prefix: string }> };
    expect(overview.queues.map((q) => [q.name, q.prefix])).toEqual([['prefixed__jobs', `${root}:bull`]]);
    const detail = JSON.parse((await call(url, '/api/tenants/acme', { headers: bearer(ADMIN) })).body) as { rateLimiters: Array<{ provider: string; value: string }> };
    expect(detail.rateLimiters).toEqual([expect.objectContaining({ provider: 'semrush', value: '3 used in the current window' })]);
  });
});

describe('10,000 tenants', () => {
  it('pages and searches the table', async () => {
    const root = uniquePrefix('dash');
    roots.push(root);
    const queue = defineQueue({ namespace: 'many', name: 'tenants', schema: z.object({ n: z.number() }), prefix: `${root}:bull`, connection: redis });
    const tenants = Array.from({ length: 10_000 }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < tenants.length; i += 1000) await queue.enqueueBulk(tenants.slice(i, i + 1000).map((tenantId) => ({ tenantId, n: 1 })));
    await queue.close();
    const url = await listen(createDashboard({ redis, prefix: `${root}:bull`, rateLimitPrefix: `${root}:rl`, token: ADMIN, env: {}, sampleSize: 10_000 }));
    const started = Date.now();
    const first = JSON.parse((await call(url, '/api/tenants?sort=tenantId&dir=desc', { headers: bearer(ADMIN) })).body) as { total: number; pageCount: number; rows: Array<{ tenantId: string }> };
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(first.total).toBe(10_000);
    expect(first.pageCount).toBe(200);
    expect(first.rows).toHaveLength(50);
    expect(first.rows[0]!.tenantId).toBe('tenant-09999');
    const last = JSON.parse((await call(url, '/api/tenants?sort=tenantId&dir=desc&page=200', { headers: bearer(ADMIN) })).body) as { rows: Array<{ tenantId: string }> };
    expect(last.rows.at(-1)!.tenantId).toBe('tenant-00000');
    const search = JSON.parse((await call(url, '/api/tenants?q=tenant-0424', { headers: bearer(ADMIN) })).body) as { total: number };
    expect(search.total).toBe(10);
    const html = await call(url, '/tenants?page=3', { headers: bearer(ADMIN) });
    expect(html.body).toContain('10,000 tenants, page 3 of 200');
  });
});
