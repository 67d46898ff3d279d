import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRedisConnection, defineConcurrencyPool, defineQueue, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, waitFor } from '@platform/testing';
import { Queue } from 'bullmq';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { z } from 'zod';
import { serveDashboard, type RunningDashboard } from './serve';
import { redisKeyControls, seedThreeTenants, type SeededFixture } from './test-fixture';

/** Debian's Chromium (`apt-get install -y chromium`; `.ci/run` installs it when missing). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** With UPDATE_SCREENSHOTS=1 the test writes the README's screenshots to docs/dashboard/. */
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(__dirname, '..', '..', '..', 'docs', 'dashboard') : undefined;
const TOKEN = 'browser-admin-token-0123456789';
// A browser on a loaded 2-core machine: generous bounds; the waits inside the tests are 10-20 s.
jest.setTimeout(120_000);

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerRedis = createRedisConnection(loadRedisConfig(), { role: 'worker' });
let fixture: SeededFixture;
let dashboard: RunningDashboard;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  fixture = await seedThreeTenants(redis, workerRedis);
  // Slots of a concurrency pool: initech 3, globex 1, acme none.
  const pool = defineConcurrencyPool({ name: 'llm', max: 8, perTenant: 4, keyPrefix: fixture.keyRoot });
  const until = Number((await redis.time())[0]) * 1000 + 600_000;
  await redis.zadd(pool.key, until, 'initech|agent__blog-writer|i1', until, 'initech|agent__blog-writer|i2', until, 'initech|rag__ingestion|i3', until, 'globex|rag__ingestion|g1');
  dashboard = await serveDashboard({
    pools: [pool],
    port: 0,
    redis,
    env: {},
    token: TOKEN,
    keyPrefix: fixture.keyRoot,
    controls: redisKeyControls(redis, fixture.keyRoot),
    cacheMs: 0,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  context = await browser.newContext({
    httpCredentials: { username: 'admin', password: TOKEN, send: 'always' },
    viewport: { width: 1280, height: 800 },
  });
  page = await context.newPage();
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await dashboard?.close();
  if (fixture) await deleteKeysByPrefix(redis, `${fixture.keyRoot}:`);
  await redis.quit();
  await workerRedis.quit();
});

async function cell(selector: string): Promise<string> {
  return (await page.locator(selector).innerText()).trim();
}

async function tenantColumn(): Promise<string[]> {
  return page.locator('#tenants tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-tenant') ?? ''));
}

/** Clicks the tenants table's `field` header, waits for the URL to say `dir`, and answers the tenant column. */
async function sortBy(field: string, dir: 'asc' | 'desc'): Promise<string[]> {
  await page.click(`#tenants th[data-sort="${field}"] a`);
  await page.waitForURL(new RegExp(`sort=${field}&dir=${dir}`));
  return tenantColumn();
}

describe('the dashboard in headless Chromium', () => {
  it('shows every queue with the right counts, and refreshes them without reloading', async () => {
    await page.goto(dashboard.url);
    expect(await page.title()).toBe('Overview · platform dashboard');
    const writer = '#queues tr[data-queue="agent__blog-writer"]';
    expect(await cell(`${writer} [data-field="waiting"]`)).toBe('10');
    expect(await cell(`${writer} [data-field="delayed"]`)).toBe('2');
    expect(await cell('#queues tr[data-queue="rag__ingestion"] [data-field="failed"]')).toBe('2');
    expect(await cell('#queues tr[data-queue="rag__ingestion"] [data-field="completed"]')).toBe('2');
    expect(await cell('#queues tr[data-queue="notifications__email"] [data-field="failed"]')).toBe('1');
    expect(await page.locator('#redis-health tr[data-check="maxmemory-policy"]').count()).toBe(1);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });

    // Live: a job enqueued now shows up without a reload (the marker survives: same document).
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    const queue = defineQueue({ namespace: 'agent', name: 'blog-writer', schema: z.object({ n: z.number() }), prefix: fixture.prefix, connection: redis });
    await queue.enqueue({ tenantId: 'acme', n: 999 });
    await queue.close();
    await waitFor(async () => (await cell(`${writer} [data-field="waiting"]`)) === '11', 10_000, 100);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
  });

  it('sorts and searches the tenants table', async () => {
    await page.goto(`${dashboard.url}tenants`);
    // Default: backlog, most first (acme 7 after the live test's job, globex 5, initech 3).
    expect(await tenantColumn()).toEqual(['acme', 'globex', 'initech']);
    expect(await cell('#tenants tr[data-tenant="acme"] [data-field="backlog"]')).toBe('7');
    expect(await cell('#tenants tr[data-tenant="acme"] [data-field="failed"]')).toBe('2');
    expect(await sortBy('tenantId', 'asc')).toEqual(['acme', 'globex', 'initech']);
    expect(await sortBy('tenantId', 'desc')).toEqual(['initech', 'globex', 'acme']);
    expect(await sortBy('failedLastHour', 'desc')).toEqual(['acme', 'globex', 'initech']);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'tenants.png'), fullPage: true });

    await page.fill('#tenant-search', 'LOB');
    await waitFor(async () => (await page.locator('#tenants tbody tr[data-tenant]').count()) === 1, 10_000, 100);
    expect(await tenantColumn()).toEqual(['globex']);
    expect(page.url()).toContain('q=LOB');
    await page.fill('#tenant-search', '');
    await waitFor(async () => (await page.locator('#tenants tbody tr[data-tenant]').count()) === 3, 10_000, 100);
  });

  it('shows each tenant\u2019s concurrency pool slots in the tenants table and sorts by them', async () => {
    await page.goto(`${dashboard.url}tenants`);
    expect(await cell('#tenants th[data-sort="poolSlots"]')).toBe('pool slots');
    expect(await cell('#tenants tr[data-tenant="initech"] [data-field="pool-slots"]')).toBe('3');
    expect(await cell('#tenants tr[data-tenant="globex"] [data-field="pool-slots"]')).toBe('1');
    expect(await cell('#tenants tr[data-tenant="acme"] [data-field="pool-slots"]')).toBe('0');
    expect(await sortBy('poolSlots', 'desc')).toEqual(['initech', 'globex', 'acme']);
    expect(await sortBy('poolSlots', 'asc')).toEqual(['acme', 'globex', 'initech']);
    await page.goto(`${dashboard.url}tenants/initech`);
    expect(await cell('#tenant-pools tr[data-pool="llm"] [data-field="in-use"]')).toBe('3');
  });

  it('pauses and resumes a tenant with its buttons (through the controls, in Redis)', async () => {
    await page.goto(`${dashboard.url}tenants/globex`);
    const key = `${fixture.keyRoot}:paused:globex`;
    expect(await redis.exists(key)).toBe(0);
    await page.click('#pause-button');
    await page.waitForURL(/notice=paused/);
    expect(await redis.get(key)).toBe('*');
    expect(await cell('#control-state')).toContain('paused');
    await page.goto(`${dashboard.url}tenants`);
    expect(await cell('#tenants tr[data-tenant="globex"] [data-field="paused"]')).toBe('paused');
    await page.goto(`${dashboard.url}tenants/globex`);
    await page.click('#resume-button');
    await page.waitForURL(/notice=resumed/);
    expect(await redis.exists(key)).toBe(0);
    expect(await cell('#control-state')).toContain('running');
  });

  it('retries a failed job from its row: the job moves to waiting', async () => {
    await page.goto(`${dashboard.url}tenants/acme`);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'tenant-detail.png'), fullPage: true });
    const [jobId, other] = fixture.failed['rag__ingestion']!['acme']!;
    const queue = new Queue('rag__ingestion', { connection: redis, prefix: fixture.prefix });
    expect(await queue.getJobState(jobId!)).toBe('failed');
    expect(await page.locator('.failures tr[data-job]').count()).toBe(2);
    await page.click(`button[data-action="retry"][data-job="${jobId}"]`);
    await page.waitForURL(/notice=retried/);
    expect(await queue.getJobState(jobId!)).toBe('waiting');
    expect(await queue.getJobState(other!)).toBe('failed');
    expect(await page.locator(`.failures tr[data-job="${jobId}"]`).count()).toBe(0);
    expect(await page.locator('.notice').innerText()).toContain('moved back to waiting');
    await queue.close();
  });

  it('opens bull-board under /jobs with the platform queues', async () => {
    await page.goto(`${dashboard.url}jobs`);
    await page.waitForSelector('text=rag__ingestion', { timeout: 20_000 });
    expect(await page.locator('text=agent__blog-writer').count()).toBeGreaterThan(0);
  });
});
