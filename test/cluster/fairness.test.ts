// Fair scheduling, tenant controls, concurrency pools and job statistics on a real 3-master
// cluster. Their scripts take many keys (the fair dispatch passes 14 fixed keys plus 3 per tenant):
// on a cluster every one of them must be in KEYS and share the queue's hash tag, or the cluster
// answers CROSSSLOT.
import { z } from 'zod';
import {
  createWorker,
  defineConcurrencyPool,
  defineQueue,
  getTenantAudit,
  getTenantLimits,
  listTenantControls,
  pauseTenant,
  resumeTenant,
  setTenantLimits,
  type QueueDefinition,
} from '@platform/queue';
import { getTenantStats } from '@platform/ops';
import { uniquePrefix, waitFor } from '@platform/testing';
import type { Worker } from 'bullmq';
import { fairSchedulerOf } from '../../packages/queue/src/fairness/scheduler';
import { keySlot } from '../../packages/queue/src/slot';
import { CLUSTER_TEST_TIMEOUT_MS, keysByMaster, size, useRedisCluster } from './cluster-setup';

jest.setTimeout(CLUSTER_TEST_TIMEOUT_MS);

const ctx = useRedisCluster();
const schema = z.object({ n: z.number() });
const definitions: Array<{ close(): Promise<void> }> = [];
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close()));
});
afterAll(async () => {
  await Promise.all(definitions.map((definition) => definition.close()));
});

/** `count` fair queues under one fresh base prefix, on distinct masters when `spread` (found by slot). */
function fairQueues(count: number, fairness: Parameters<typeof defineQueue>[0]['fairness'] = 'per-tenant', extra: Partial<Parameters<typeof defineQueue>[0]> = {}) {
  const prefix = uniquePrefix('fair');
  const producer = ctx.connect();
  const queues = Array.from({ length: count }, (_, i) =>
    defineQueue({ namespace: 'agent', name: `fair${i}`, schema, prefix, connection: producer, fairness, enqueueTimeoutMs: 30_000, ...extra }),
  );
  definitions.push(...queues);
  return { prefix, producer, queues };
}

function worker<D extends QueueDefinition<typeof schema>>(definition: D, handler: (job: { data: { tenantId: string; n: number } }) => Promise<void>, concurrency = 1): Worker {
  const w = createWorker(definition, handler, { connection: ctx.connect('worker'), handleSignals: false, concurrency });
  workers.push(w);
  return w;
}

it("fairness 'per-tenant': a small tenant waits behind the window, not behind a big tenant's backlog; every key in the queue's slot", async () => {
  const { prefix, producer, queues } = fairQueues(1, { window: 3 });
  const [q] = queues as [QueueDefinition<typeof schema>];
  expect(q.settings.prefix).toBe(`${prefix}:{agent__fair0}`);
  const big = size(60, 12);
  await q.enqueueBulk(Array.from({ length: big }, (_, n) => ({ tenantId: 'big', n })));
  await q.enqueue({ tenantId: 'small', n: 1000 });
  const order: string[] = [];
  worker(q, async (job) => void order.push(`${job.data.tenantId}:${job.data.n}`));
  await waitFor(() => order.length === big + 1, 60_000);
  expect(order.indexOf('small:1000')).toBeLessThanOrEqual(4);
  expect(order.filter((o) => o.startsWith('big:')).map((o) => Number(o.slice(4)))).toEqual(Array.from({ length: big }, (_, n) => n));

  // The scheduler's keys (per-tenant ones included) all hash to the queue's slot, hence one master.
  const keys = fairSchedulerOf(q)!.keys;
  for (const key of [keys.ready, keys.delayed, keys.ctl, keys.pending('big'), keys.leases('small'), keys.rateLog('big')]) {
    expect(keySlot(key)).toBe(keySlot('agent__fair0'));
  }
  // One snapshot of the prefix's keys, classified (two scans would race the running worker's own
  // short-lived keys). Besides the queue's keys there is only the registry of fair queues (a key
  // of its own, always used alone).
  const byMaster = await keysByMaster(producer, `${prefix}:*`);
  const queueKey = (key: string) => key.startsWith(`${prefix}:{agent__fair0}:`);
  const holders = [...byMaster.values()].filter((keys) => keys.some(queueKey));
  expect(holders).toHaveLength(1);
  const others = [...byMaster.values()].flat().filter((key) => !queueKey(key));
  expect(others).toEqual([`${prefix}:fair-queues`]);
  expect(await producer.smembers(`${prefix}:fair-queues`)).toEqual(['agent__fair0']);
});

it('tenant controls: pause and resume a tenant on one queue, by name and on every fair queue of the prefix across masters', async () => {
  // Enough queues that, hashed by name, they sit on every master.
  const { prefix, producer, queues } = fairQueues(9, { window: 5 });
  const spread = await (async () => {
    await producer.ping();
    return new Set(queues.map((q) => producer.slots[keySlot(q.name)]?.[0])).size;
  })();
  expect(spread).toBe(3);
  const [first] = queues as [QueueDefinition<typeof schema>];

  // On one queue (a definition): acme's jobs wait while globex's run; then acme resumes.
  const paused = await pauseTenant(first, 'acme', { actor: 'test' });
  expect(paused.map((c) => [c.queue, c.action])).toEqual([[first.name, 'pause']]);
  const done: string[] = [];
  worker(first, async (job) => void done.push(job.data.tenantId), 4);
  await first.enqueueBulk([...Array.from({ length: 5 }, (_, n) => ({ tenantId: 'acme', n })), ...Array.from({ length: 5 }, (_, n) => ({ tenantId: 'globex', n }))]);
  await waitFor(() => done.length === 5, 30_000);
  // Give the paused tenant a chance to run if the pause did not hold.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(done).toEqual(Array(5).fill('globex'));
  await resumeTenant(first, 'acme', { actor: 'test' });
  await waitFor(() => done.length === 10, 30_000);
  expect(done.filter((t) => t === 'acme')).toHaveLength(5);

  // By name and 'all': the registry lists every fair queue of the prefix, each on its own master.
  for (const q of queues) await q.enqueue({ tenantId: 'warmup', n: 0 });
  const all = await pauseTenant('all', 'initech', { connection: producer, prefix, actor: 'ops', forMs: 600_000 });
  expect(all.map((c) => c.queue).sort()).toEqual(queues.map((q) => q.name).sort());
  const listed = await listTenantControls('all', { connection: producer, prefix });
  expect(listed.filter((e) => e.tenantId === 'initech').map((e) => e.queue).sort()).toEqual(queues.map((q) => q.name).sort());
  await setTenantLimits(queues[4]!.name, 'initech', { maxActive: 2 }, { connection: producer, prefix, actor: 'ops' });
  const limits = await getTenantLimits(queues[4]!.name, 'initech', { connection: producer, prefix });
  expect(limits.maxActive).toMatchObject({ value: 2, source: 'override' });
  expect(limits.paused?.by).toBe('ops');
  const audit = await getTenantAudit('all', { connection: producer, prefix, tenantId: 'initech' });
  expect(audit.filter((e) => e.action === 'pause')).toHaveLength(queues.length);
  expect(audit.filter((e) => e.action === 'set-limits').map((e) => e.queue)).toEqual([queues[4]!.name]);
  const resumed = await resumeTenant('all', 'initech', { connection: producer, prefix, actor: 'ops' });
  expect(resumed).toHaveLength(queues.length);
  expect((await listTenantControls('all', { connection: producer, prefix })).filter((e) => e.paused)).toEqual([]);
});

it('a concurrency pool shared by queues on different masters holds its limits (max and perTenant)', async () => {
  const pool = defineConcurrencyPool({ name: uniquePrefix('pool'), max: 2, perTenant: 1, leaseMs: 10_000 });
  const { queues } = fairQueues(3, undefined, { pools: [pool] });
  const perQueue = size(20, 6);
  let running = 0;
  let maxRunning = 0;
  const runningByTenant = new Map<string, number>();
  let maxPerTenant = 0;
  let finished = 0;
  for (const q of queues) {
    worker(
      q,
      async (job) => {
        running += 1;
        const mine = (runningByTenant.get(job.data.tenantId) ?? 0) + 1;
        runningByTenant.set(job.data.tenantId, mine);
        maxRunning = Math.max(maxRunning, running);
        maxPerTenant = Math.max(maxPerTenant, mine);
        await new Promise((resolve) => setTimeout(resolve, 20));
        runningByTenant.set(job.data.tenantId, runningByTenant.get(job.data.tenantId)! - 1);
        running -= 1;
        finished += 1;
      },
      4,
    );
    await q.enqueueBulk(Array.from({ length: perQueue }, (_, n) => ({ tenantId: n % 2 === 0 ? 'acme' : 'globex', n })));
  }
  await waitFor(() => finished === perQueue * queues.length, 120_000, 50);
  expect(maxRunning).toBeLessThanOrEqual(2);
  expect(maxPerTenant).toBe(1);
  expect(maxRunning).toBe(2);
});

it('job statistics written by producers and workers are read back per tenant across masters (getTenantStats)', async () => {
  const { prefix, producer, queues } = fairQueues(3, undefined);
  let finished = 0;
  for (const q of queues) {
    worker(q, async () => {
      finished += 1;
    });
    await q.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: 2 }, { tenantId: 'globex', n: 3 }]);
  }
  await waitFor(() => finished === 9, 60_000);
  // Statistics are written after the job resolves (unawaited): wait until all 9 completions are counted.
  const report = await waitFor(async () => {
    const r = await getTenantStats(producer, { prefix });
    return r.tenants.reduce((sum, row) => sum + row.recent.completed, 0) === 9 ? r : undefined;
  }, 30_000);
  expect(report.queues.sort()).toEqual(queues.map((q) => q.name).sort());
  for (const q of queues) {
    const rows = report.tenants.filter((row) => row.queue === q.name);
    expect(rows.map((row) => [row.tenantId, row.recent.enqueued, row.recent.completed]).sort()).toEqual([
      ['acme', 2, 2],
      ['globex', 1, 1],
    ]);
  }
});
