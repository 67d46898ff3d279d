import { DeferJobError } from '@platform/redis';
import { createWorker, defineQueue } from '@platform/queue';
import { waitFor } from '@platform/testing';
import { z } from 'zod';
import { quantileSeconds } from './job-stats-sum';
import { createQueueMetrics, QUEUE_METRIC_NAMES } from './metrics';
import { getTenantStats, sortTenantStats } from './tenants';
import { useOpsTestContext } from './test-support';

const { redis, workerConnection, newPrefix } = useOpsTestContext('opst');
const schema = z.object({ n: z.number() });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samplesOf(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

describe('getTenantStats', () => {
  it('backlog (BullMQ and fair backlog), active, p95 wait and the last hour\'s failures per tenant, from Redis', async () => {
    const prefix = newPrefix();
    const fair = defineQueue({ namespace: 'ops', name: 'fair', schema, prefix, connection: redis, fairness: { window: 2 } });
    const plain = defineQueue({ namespace: 'ops', name: 'plain', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    await fair.enqueueBulk([...Array(6)].map((_, n) => ({ tenantId: n < 4 ? 'acme' : 'globex', n })));
    const worker = createWorker(plain, async (job) => {
      if (job.data.n < 0) throw new Error('bad');
      if (job.data.n === 99) throw new DeferJobError(60_000, 'rate-limit');
    }, { connection: workerConnection, handleSignals: false });
    await plain.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: -1 }, { tenantId: 'initech', n: -2 }, { tenantId: 'initech', n: 99 }]);
    await waitFor(async () => (await plain.queue.getFailedCount()) === 2 && (await plain.queue.getCompletedCount()) === 1 && (await plain.queue.getDelayedCount()) === 1);
    await worker.close();

    let report = await getTenantStats(redis, { prefix });
    await waitFor(async () => {
      report = await getTenantStats(redis, { prefix });
      return report.tenants.filter((t) => t.queue === 'ops__plain').reduce((a, t) => a + t.recent.failed + t.recent.completed, 0) === 3;
    });
    expect(report.queues).toEqual(['ops__fair', 'ops__plain']);
    expect(report.windowMs).toBeGreaterThanOrEqual(3_600_000);
    const row = (queue: string, tenantId: string) => report.tenants.find((t) => t.queue === queue && t.tenantId === tenantId);
    // The fair queue: 2 jobs released into BullMQ (window 2), the rest pending in its backlog; the sum is exact.
    expect(row('ops__fair', 'acme')).toMatchObject({ backlog: 4, active: 0, backlogExact: true, recent: { enqueued: 4 } });
    expect(row('ops__fair', 'globex')).toMatchObject({ backlog: 2, recent: { enqueued: 2 } });
    expect(row('ops__plain', 'acme')).toMatchObject({ backlog: 0, recent: { enqueued: 2, completed: 1, failed: 1, failedAttempts: 1 } });
    expect(row('ops__plain', 'acme')!.waitP95Seconds).toEqual(expect.any(Number));
    expect(row('ops__plain', 'initech')).toMatchObject({ recent: { failed: 1, deferred: { 'rate-limit': 1 } } });
    expect(sortTenantStats(report.tenants, 'failed').slice(0, 2).map((t) => t.recent.failed)).toEqual([1, 1]);
    expect(sortTenantStats(report.tenants, 'backlog')[0]).toMatchObject({ queue: 'ops__fair', tenantId: 'acme' });

    const one = await getTenantStats(redis, { prefix, tenantId: 'initech' });
    expect(one.tenants.map((t) => [t.queue, t.tenantId])).toEqual([['ops__plain', 'initech']]);
    await fair.close();
    await plain.close();
  });

  it('quantiles interpolate within the bucket, as histogram_quantile does', () => {
    // 100 observations in the first bucket (0..0.05 s): p95 is 95 % of the way up it.
    expect(quantileSeconds([100, 0, 0], 0.95)).toBeCloseTo(0.0475);
    expect(quantileSeconds([0, 0], 0.95)).toBeNull();
  });
});

describe('notification circuit breaker series', () => {
  it('exports state (one-hot), trips, probes and failures in a row per channel and provider', async () => {
    const breakers = [
      { channel: 'email', provider: 'resend', state: 'closed' as const, consecutiveFailures: 0, trips: 2, probes: 3 },
      { channel: 'sms', provider: 'twilio', state: 'open' as const, consecutiveFailures: 5, trips: 1, probes: 0 },
    ];
    const metrics = createQueueMetrics({ providerHealth: async () => breakers, cacheMs: 0 });
    const samples = samplesOf(await metrics.registry.metrics());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value(QUEUE_METRIC_NAMES.circuitState, { channel: 'sms', provider: 'twilio', state: 'open' })).toBe(1);
    expect(value(QUEUE_METRIC_NAMES.circuitState, { channel: 'sms', provider: 'twilio', state: 'closed' })).toBe(0);
    expect(value(QUEUE_METRIC_NAMES.circuitState, { channel: 'email', provider: 'resend', state: 'closed' })).toBe(1);
    expect(value(QUEUE_METRIC_NAMES.circuitTrips, { channel: 'email', provider: 'resend' })).toBe(2);
    expect(value(QUEUE_METRIC_NAMES.circuitProbes, { channel: 'email', provider: 'resend' })).toBe(3);
    expect(value(QUEUE_METRIC_NAMES.circuitFailures, { channel: 'sms', provider: 'twilio' })).toBe(5);
    // Without the option there is no breaker series at all (not a series stuck at zero).
    expect(await createQueueMetrics().registry.metrics()).not.toContain('platform_notification_circuit');
  });
});

describe('per-tenant series', () => {
  it('10,000 tenants: each queue has at most topTenants + 1 tenant label values, and the totals are kept', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'ops', name: 'many', schema, prefix, connection: redis });
    const tenants = 10_000;
    for (let i = 0; i < tenants; i += 2_000) {
      await q.enqueueBulk([...Array(2_000)].map((_, k) => ({ tenantId: `t${i + k}`, n: k })));
    }
    // Two tenants with more backlog than the rest: they are the top 2.
    await q.enqueueBulk([...Array(5)].map((_, n) => ({ tenantId: 't42', n })));
    await q.enqueueBulk([...Array(3)].map((_, n) => ({ tenantId: 't7', n })));
    const metrics = createQueueMetrics({ redis, prefix, topTenants: 2, cacheMs: 0, tenantSampleSize: 20_000 });
    let samples: Sample[] = [];
    await waitFor(async () => {
      samples = samplesOf(await metrics.registry.metrics());
      return samples.filter((s) => s.name === QUEUE_METRIC_NAMES.jobsEnqueued).reduce((a, s) => a + s.value, 0) === tenants + 8;
    }, 30_000);
    const tenantLabels = new Set(samples.filter((s) => s.labels.tenant !== undefined).map((s) => s.labels.tenant));
    expect([...tenantLabels].sort()).toEqual(['other', 't42', 't7']);
    const enqueued = Object.fromEntries(samples.filter((s) => s.name === QUEUE_METRIC_NAMES.jobsEnqueued).map((s) => [s.labels.tenant, s.value]));
    expect(enqueued).toEqual({ t42: 6, t7: 4, other: tenants - 2 });
    const backlog = Object.fromEntries(samples.filter((s) => s.name === QUEUE_METRIC_NAMES.tenantBacklog).map((s) => [s.labels.tenant, s.value]));
    expect(backlog).toEqual({ t42: 6, t7: 4, other: tenants - 2 });
    // Every series of the registry, whatever its labels: bounded, not one per tenant.
    expect(samples.length).toBeLessThan(300);

    // A second scrape adds only what happened since: nothing here.
    const again = samplesOf(await metrics.registry.metrics()).filter((s) => s.name === QUEUE_METRIC_NAMES.jobsEnqueued);
    expect(Object.fromEntries(again.map((s) => [s.labels.tenant, s.value]))).toEqual(enqueued);
    await q.obliterate({ force: true });
    await q.close();
  }, 120_000);

  it('a tenant whose id is "other" is summed into the other series, not overwritten by it', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'ops', name: 'other', schema, prefix, connection: redis });
    await q.enqueueBulk([...Array(3)].map((_, n) => ({ tenantId: 'other', n })));
    await q.enqueueBulk([...Array(2)].map((_, n) => ({ tenantId: 'acme', n })));
    await q.enqueue({ tenantId: 'globex', n: 0 });
    const metrics = createQueueMetrics({ redis, prefix, topTenants: 2, cacheMs: 0 });
    const samples = samplesOf(await metrics.registry.metrics());
    const waiting = Object.fromEntries(samples.filter((s) => s.name === QUEUE_METRIC_NAMES.tenantWaiting).map((s) => [s.labels.tenant, s.value]));
    const backlog = Object.fromEntries(samples.filter((s) => s.name === QUEUE_METRIC_NAMES.tenantBacklog).map((s) => [s.labels.tenant, s.value]));
    // Both per-tenant series of the queue add up to its 6 waiting jobs.
    expect(backlog).toEqual({ acme: 2, globex: 1, other: 3 });
    expect(Object.values(waiting).reduce((a: number, b) => a + Number(b), 0)).toBe(6);
    expect(waiting).toEqual({ acme: 2, other: 4 });
    await q.obliterate({ force: true });
    await q.close();
  });
});
