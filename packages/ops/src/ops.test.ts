import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedisServer, waitFor } from '@platform/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from '@platform/redis';
import { z } from 'zod';
import { createWorker, defineQueue } from '@platform/queue';
import { listFailedJobs, retryFailedJobs } from './failed-jobs';
import { createQueueMetrics, QUEUE_METRIC_NAMES } from './metrics';
import { createMetricsHandler } from './metrics-handler';
import { defaultPrefix } from './prefix';
import { getQueueStats, listPlatformQueues } from './stats';
import { getTenantStats } from './tenants';
import { useOpsTestContext } from './test-support';

const { redis, workerConnection, newPrefix } = useOpsTestContext('ops');

const schema = z.object({ n: z.number() });

function fetchText(url: string): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: String(res.headers['content-type']) }));
    }).on('error', reject);
  });
}

/** Minimal Prometheus text-format parser: throws on any line that is not a comment or a sample. */
function parsePrometheus(text: string) {
  const types = new Map<string, string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$/.exec(line);
    if (!sample) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    const name = sample[1]!;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(name) && !types.has(base)) throw new Error(`sample ${name} has no # TYPE line`);
    samples.push({ name, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

describe('getQueueStats', () => {
  it('reports counts per state, the oldest waiting job and waiting jobs per tenant', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'ops', name: 'stats', schema, prefix, connection: redis });
    const other = defineQueue({ namespace: 'ops', name: 'empty', schema, prefix, connection: redis });
    await other.enqueue({ tenantId: 'solo', n: 0 }, { delay: 60_000 });
    const tenants = ['acme', 'acme', 'acme', 'globex', 'globex', 'initech'];
    for (const [i, tenantId] of tenants.entries()) await q.enqueue({ tenantId, n: i });
    await q.enqueue({ tenantId: 'globex', n: 99 }, { priority: 5 });
    await q.enqueue({ tenantId: 'acme', n: 100 }, { delay: 3_600_000 });
    // A non-platform queue on the same prefix is ignored.
    await redis.hset(`${prefix}:legacy:meta`, 'opts.maxLenEvents', '10');

    expect(await listPlatformQueues(redis, { prefix })).toEqual(['ops__empty', 'ops__stats']);
    const [empty, stats] = await getQueueStats(redis, { prefix });
    expect(empty!.counts).toEqual({ waiting: 0, prioritized: 0, active: 0, delayed: 1, failed: 0, completed: 0 });
    expect(empty!.oldestWaitingAgeMs).toBeNull();
    expect(stats!.name).toBe('ops__stats');
    expect(stats!.counts).toEqual({ waiting: 7, prioritized: 1, active: 0, delayed: 1, failed: 0, completed: 0 });
    expect(stats!.topTenants).toEqual([
      { tenantId: 'acme', waiting: 3 },
      { tenantId: 'globex', waiting: 3 },
      { tenantId: 'initech', waiting: 1 },
    ]);
    expect(stats!.tenantSample).toEqual({ sampled: 7, waiting: 7, exact: true });
    expect(stats!.oldestWaitingAgeMs).toBeGreaterThanOrEqual(0);
    expect(stats!.status).toBe('OK');

    // Thresholds apply, and the sample bound holds.
    const [, bounded] = await getQueueStats(redis, { prefix, thresholds: { warn: 5, critical: 100 }, tenantSampleSize: 2, topTenants: 1 });
    expect(bounded!.status).toBe('WARN');
    expect(bounded!.tenantSample).toEqual({ sampled: 2, waiting: 7, exact: false });
    // The two oldest FIFO jobs are acme's.
    expect(bounded!.topTenants).toEqual([{ tenantId: 'acme', waiting: 2 }]);
    await q.close();
    await other.close();
  });
});

describe('failed jobs', () => {
  it('lists failures by tenant and replays each failed job exactly once, even with concurrent retries', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'ops', name: 'replay', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    const calls = new Map<string, number>();
    const worker = createWorker(
      q,
      async (job) => {
        const n = (calls.get(job.id!) ?? 0) + 1;
        calls.set(job.id!, n);
        if (n === 1) throw new Error(`boom ${job.data.n}`);
        return 'ok';
      },
      { connection: workerConnection, handleSignals: false, concurrency: 4 },
    );
    const jobs = await q.enqueueBulk(Array.from({ length: 8 }, (_, i) => ({ tenantId: i % 2 === 0 ? 'even' : 'odd', n: i })));
    await waitFor(async () => (await q.queue.getFailedCount()) === 8);

    const evenFailures = await listFailedJobs(redis, q.name, { prefix, tenantId: 'even' });
    expect(evenFailures).toHaveLength(4);
    expect(evenFailures.every((j) => j.tenantId === 'even' && /^boom \d$/.test(j.failedReason))).toBe(true);
    expect(await listFailedJobs(redis, q.name, { prefix, since: Date.now() + 60_000 })).toEqual([]);

    // limit: 0 replays nothing (as listFailedJobs lists nothing).
    expect(await retryFailedJobs(redis, q.name, { prefix, limit: 0 })).toEqual({ matched: 0, retried: [], skipped: [], errors: [] });
    expect(await q.queue.getFailedCount()).toBe(8);

    // Two replays at once: together they move each job out of the failed set once.
    const [a, b] = await Promise.all([retryFailedJobs(redis, q.name, { prefix }), retryFailedJobs(redis, q.name, { prefix })]);
    expect(a!.retried.length + b!.retried.length).toBe(8);
    expect(new Set([...a!.retried, ...b!.retried]).size).toBe(8);
    await waitFor(async () => (await q.queue.getCompletedCount()) === 8);
    const again = await retryFailedJobs(redis, q.name, { prefix });
    expect(again.matched).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(jobs.map((j) => calls.get(j.id!))).toEqual(Array(8).fill(2));
    await worker.close();
    await q.close();
  });
});

describe('reading is read-only', () => {
  it('stats, tenant stats and the failed-job listing leave every queue\'s meta hash as it was, and create no queue', async () => {
    const prefix = newPrefix();
    // A service's plain BullMQ queue with its own event stream cap, beside a platform queue.
    const plain = new Queue('legacy', { connection: redis, prefix, streams: { events: { maxLen: 50 } } });
    await plain.add('x', { tenantId: 'acme' });
    const q = defineQueue({ namespace: 'ops', name: 'readonly', schema, prefix, connection: redis });
    await q.enqueue({ tenantId: 'acme', n: 1 });
    await redis.hset(`${prefix}:legacy:meta`, 'version', 'bullmq:5.0.0');
    const metaOf = async () => ({ legacy: await redis.hgetall(`${prefix}:legacy:meta`), platform: await redis.hgetall(`${prefix}:ops__readonly:meta`) });
    const before = await metaOf();
    expect(before.legacy['opts.maxLenEvents']).toBe('50');

    await getQueueStats(redis, { prefix });
    await getQueueStats(redis, { prefix, queues: ['ops__missing'] });
    await getTenantStats(redis, { prefix });
    await listFailedJobs(redis, 'legacy', { prefix });
    await listFailedJobs(redis, 'ops__readonly', { prefix });
    // Queue's constructor writes its meta asynchronously: give a stray write time to land.
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(await metaOf()).toEqual(before);
    expect(await redis.exists(`${prefix}:ops__missing:meta`)).toBe(0);
    await plain.close();
    await q.close();
  });
});

describe('createQueueMetrics + createMetricsHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  it('serves Prometheus text with depth, tenant and job series (no series nothing records); /healthz follows Redis', async () => {
    const prefix = newPrefix();
    const own = await startRedisServer();
    // No reconnects: once the server is gone the client ends (disconnect() on an ended ioredis client
    // would leave a 2 s timer behind).
    const ownRedis = new Redis(own.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    ownRedis.on('error', () => undefined);
    const q = defineQueue({ namespace: 'ops', name: 'metrics', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    for (const tenantId of ['t1', 't1', 't1', 't2', 't2', 't3']) await q.enqueue({ tenantId, n: 1 });

    const metrics = createQueueMetrics({ redis, prefix, topTenants: 2, cacheMs: 0 });
    const handler = createMetricsHandler({ registry: metrics.registry, redis: ownRedis, healthTimeoutMs: 500 });
    server = createServer((req, res) => void handler.handle(req, res));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const processed = defineQueue({ namespace: 'ops', name: 'worked', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    const worker = createWorker(processed, async (job) => {
      if (job.data.n < 0) throw new Error('negative');
      return job.data.n;
    }, { connection: workerConnection, handleSignals: false });
    // No observeWorker or any other call: createWorker records by itself.
    await processed.enqueueBulk([{ tenantId: 'x', n: 1 }, { tenantId: 'x', n: 2 }, { tenantId: 'x', n: -1 }]);
    await waitFor(async () => (await processed.queue.getCompletedCount()) === 2 && (await processed.queue.getFailedCount()) === 1);
    await waitFor(async () => (await metrics.registry.getSingleMetricAsString(QUEUE_METRIC_NAMES.jobsFailed)).includes('tenant="x"} 1'));
    // A paused queue reads as paused; a plain BullMQ queue under the same prefix is listed beside.
    await processed.queue.pause();
    const plain = new Queue('legacy-mailer', { connection: redis, prefix });
    await plain.add('send', { to: 'a@example.com' });

    const scraped = await fetchText(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(scraped.body);
    expect(Object.fromEntries([...types].filter(([name]) => name.startsWith('platform_')))).toEqual({
      platform_queue_redis_up: 'gauge',
      platform_queue_jobs: 'gauge',
      platform_queue_paused: 'gauge',
      platform_queue_oldest_waiting_seconds: 'gauge',
      platform_queue_tenant_waiting_jobs: 'gauge',
      platform_queue_depth_threshold_jobs: 'gauge',
      platform_jobs_enqueued_total: 'counter',
      platform_jobs_completed_total: 'counter',
      platform_jobs_failed_total: 'counter',
      platform_job_failed_attempts_total: 'counter',
      platform_jobs_deferred_total: 'counter',
      platform_job_wait_seconds: 'histogram',
      platform_job_run_seconds: 'histogram',
      platform_tenant_backlog_jobs: 'gauge',
      platform_tenant_active_jobs: 'gauge',
    });
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('platform_queue_jobs', { queue: 'ops__metrics', state: 'waiting' })).toBe(6);
    expect(value('platform_queue_jobs', { queue: 'ops__worked', state: 'completed' })).toBe(2);
    expect(value('platform_queue_jobs', { queue: 'ops__worked', state: 'failed' })).toBe(1);
    // Top 2 tenants get their own series; t3 is folded into "other".
    const tenantSeries = samples.filter((s) => s.name === 'platform_queue_tenant_waiting_jobs' && s.labels.queue === 'ops__metrics');
    expect(Object.fromEntries(tenantSeries.map((s) => [s.labels.tenant, s.value]))).toEqual({ t1: 3, t2: 2, other: 1 });
    expect(value('platform_queue_depth_threshold_jobs', { level: 'warn' })).toBe(1000);
    expect(value('platform_queue_depth_threshold_jobs', { level: 'critical' })).toBe(10000);
    expect(value('platform_jobs_enqueued_total', { queue: 'ops__worked', tenant: 'x' })).toBe(3);
    expect(value('platform_jobs_completed_total', { queue: 'ops__worked', tenant: 'x' })).toBe(2);
    expect(value('platform_jobs_failed_total', { queue: 'ops__worked', tenant: 'x' })).toBe(1);
    expect(value('platform_job_failed_attempts_total', { queue: 'ops__worked', tenant: 'x' })).toBe(1);
    expect(value('platform_job_run_seconds_count', { queue: 'ops__worked', tenant: 'x' })).toBe(3);
    expect(value('platform_job_wait_seconds_bucket', { queue: 'ops__worked', tenant: 'x', le: '+Inf' })).toBe(3);
    expect(value('platform_tenant_backlog_jobs', { queue: 'ops__metrics', tenant: 't1' })).toBe(3);
    expect(value('platform_tenant_backlog_jobs', { queue: 'ops__metrics', tenant: 'other' })).toBe(1);
    expect(value('platform_queue_paused', { queue: 'ops__worked' })).toBe(1);
    expect(value('platform_queue_paused', { queue: 'ops__metrics' })).toBe(0);
    expect(value('platform_queue_jobs', { queue: 'legacy-mailer', state: 'waiting' })).toBe(1);
    expect(value('platform_queue_redis_up', {})).toBe(1);

    const healthy = await fetchText(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(JSON.parse(healthy.body)).toMatchObject({ status: 'ok', redis: 'up' });
    expect((await fetchText(`${base}/nope`)).status).toBe(404);

    await own.stop();
    const down = await fetchText(`${base}/healthz`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ status: 'unavailable', redis: 'down' });

    await worker.close();
    await plain.close();
    await q.close();
    await processed.close();
    if (ownRedis.status !== 'end') ownRedis.disconnect();
  });
});

describe('createQueueMetrics options', () => {
  it('refuses a queue name BullMQ cannot open, instead of reporting Redis down on every scrape', () => {
    for (const queues of [['ops__a', 'ops:b'], ['']]) {
      expect(() => createQueueMetrics({ redis, queues })).toThrow(InvalidArgumentError);
      expect(() => createQueueMetrics({ redis, queues })).toThrow(/queues/);
    }
  });
});

describe('default prefix', () => {
  const saved = process.env.REDIS_KEY_PREFIX;
  afterEach(() => void Object.assign(process.env, { REDIS_KEY_PREFIX: saved ?? '' }));

  it('follows REDIS_KEY_PREFIX: bull, or <prefix>:bull, the same namespace as defineQueue', async () => {
    expect(defaultPrefix({})).toBe('bull');
    expect(defaultPrefix({ REDIS_KEY_PREFIX: '' })).toBe('bull');
    expect(defaultPrefix({ REDIS_KEY_PREFIX: 'acme' })).toBe('acme:bull');

    const keyPrefix = newPrefix();
    process.env.REDIS_KEY_PREFIX = keyPrefix;
    const q = defineQueue({ namespace: 'ops', name: 'ns', schema, connection: redis, defaultJobOptions: { attempts: 1 } });
    expect(q.settings.prefix).toBe(`${keyPrefix}:bull`);
    await q.enqueue({ tenantId: 't1', n: 1 });
    const worker = createWorker(q, async () => {
      throw new Error('nope');
    }, { connection: workerConnection, handleSignals: false });
    await waitFor(async () => (await q.queue.getFailedCount()) === 1);
    // No prefix given anywhere: stats and failed-job tools find the queue under REDIS_KEY_PREFIX.
    expect(await listPlatformQueues(redis)).toContain('ops__ns');
    const [stats] = await getQueueStats(redis, { queues: ['ops__ns'] });
    expect(stats!.counts.failed).toBe(1);
    expect((await listFailedJobs(redis, 'ops__ns')).map((j) => j.failedReason)).toEqual(['nope']);
    await worker.close();
    await q.close();
  });
});
