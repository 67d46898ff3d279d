// What operators run, on a real 3-master cluster reached through REDIS_CLUSTER_NODES: `platform
// doctor | queues | failed | tenants | schedules` (in-process) and the dashboard's pages. Queues hash
// to different masters, so every listing must SCAN each master and open each queue with its tag.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createWorker, defineQueue, tenantSchedules, type QueueDefinition } from '@platform/queue';
import { createDashboard } from '@platform/dashboard';
import { uniquePrefix, waitFor } from '@platform/testing';
import { UnrecoverableError } from 'bullmq';
import { main } from '../../packages/cli/src/main';
import { keySlot } from '../../packages/queue/src/slot';
import { CLUSTER_TEST_TIMEOUT_MS, useRedisCluster } from './cluster-setup';

jest.setTimeout(CLUSTER_TEST_TIMEOUT_MS);

const ctx = useRedisCluster();
const schema = z.object({ n: z.number(), fail: z.boolean().default(false) });
// Two queues per master of a 3-master cluster (slots 0-5460, 5461-10922, 10923-16383 by name).
const QUEUES = ['agent__blog-writer', 'rag__ingestion', 'agent__translate', 'notifications__sms', 'agent__keyword-researcher', 'notifications__web'];
let keyRoot: string;
let prefix: string;
let definitions: Array<QueueDefinition<typeof schema>>;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const env = { REDIS_CLUSTER_NODES: ctx.cluster.nodesEnv, REDIS_KEY_PREFIX: keyRoot };
  const code = await main(args, { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdoutIsTTY: false, stderrIsTTY: false });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  keyRoot = uniquePrefix('ops');
  prefix = `${keyRoot}:bull`;
  const producer = ctx.connect();
  definitions = QUEUES.map((full) => {
    const [namespace, name] = full.split('__') as [string, string];
    return defineQueue({ namespace, name, schema, prefix, connection: producer, enqueueTimeoutMs: 30_000, defaultJobOptions: { attempts: 1 } });
  });
  // The six queues hash to every master.
  await producer.ping();
  expect(new Set(QUEUES.map((q) => producer.slots[keySlot(q)]?.[0])).size).toBe(3);
  // Every queue: acme 2 waiting, globex 1 waiting; rag__ingestion also one failed job of acme.
  for (const definition of definitions) {
    await definition.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: 2 }, { tenantId: 'globex', n: 3 }]);
  }
  const rag = definitions[1]!;
  const failing = defineQueue({ namespace: 'rag', name: 'failing', schema, prefix, connection: producer, defaultJobOptions: { attempts: 1 } });
  await failing.enqueue({ tenantId: 'acme', n: 9, fail: true });
  const worker = createWorker(failing, async (job) => {
    if (job.data.fail) throw new UnrecoverableError(`document ${job.data.n} refused`);
  }, { connection: ctx.connect('worker'), handleSignals: false });
  await waitFor(async () => (await failing.queue.getFailedCount()) === 1, 30_000);
  await worker.close();
  definitions.push(failing);
  await tenantSchedules.schedule(rag, 'acme', 'nightly', { pattern: '0 3 * * *' }, { n: 0 });
}, 120_000);

afterAll(async () => {
  await Promise.all(definitions.map((definition) => definition.close()));
});

it('platform doctor checks every node of the cluster and exits 0', async () => {
  const result = await cli(['doctor', '--json', '--samples', '3', '--rtt-warn-ms', '1000', '--rtt-fail-ms', '2000']);
  const report = JSON.parse(result.stdout) as { ok: boolean; checks: Array<{ id: string; status: string; value: string }> };
  expect(report.checks.filter((c) => c.id === 'mode')).toHaveLength(6);
  expect(report.checks.find((c) => c.id === 'cluster-slots')?.status).toBe('PASS');
  expect(report.checks.find((c) => c.id === 'cluster-replicas')?.status).toBe('PASS');
  // Private test nodes have no persistence or maxmemory: WARNs, no FAIL.
  expect(report.checks.filter((c) => c.status === 'FAIL')).toEqual([]);
  expect(result.code).toBe(0);
});

it('platform queues lists the queues of every master with their counts and top tenants', async () => {
  const result = await cli(['queues', '--json']);
  expect(result.code).toBe(0);
  const { queues } = JSON.parse(result.stdout) as { queues: Array<{ name: string; counts: Record<string, number>; topTenants: Array<{ tenantId: string; waiting: number }> }> };
  expect(queues.map((q) => q.name).sort()).toEqual([...QUEUES, 'rag__failing'].sort());
  for (const q of queues.filter((x) => x.name !== 'rag__failing')) {
    expect(q.counts.waiting).toBe(3);
    expect(q.topTenants).toEqual([{ tenantId: 'acme', waiting: 2 }, { tenantId: 'globex', waiting: 1 }]);
  }
  expect(queues.find((q) => q.name === 'rag__failing')!.counts.failed).toBe(1);
});

it('platform failed list / retry find the failed job in its queue and replay it', async () => {
  const list = await cli(['failed', 'list', '--queue', 'rag__failing', '--json']);
  expect(list.code).toBe(0);
  const { jobs } = JSON.parse(list.stdout) as { jobs: Array<{ tenantId: string; failedReason: string }> };
  expect(jobs.map((j) => [j.tenantId, j.failedReason])).toEqual([['acme', 'document 9 refused']]);
  const retry = await cli(['failed', 'retry', '--queue', 'rag__failing', '--yes', '--json']);
  expect(retry.code).toBe(0);
  expect((JSON.parse(retry.stdout) as { retried: string[] }).retried).toHaveLength(1);
  expect((await definitions.at(-1)!.counts()).waiting).toBe(1);
});

it('platform tenants list shows each tenant per queue across masters', async () => {
  const result = await cli(['tenants', 'list', '--json']);
  expect(result.code).toBe(0);
  const { tenants } = JSON.parse(result.stdout) as { tenants: Array<{ queue: string; tenantId: string; backlog: number }> };
  for (const queue of QUEUES) {
    expect(tenants.filter((t) => t.queue === queue).map((t) => [t.tenantId, t.backlog]).sort()).toEqual([
      ['acme', 2],
      ['globex', 1],
    ]);
  }
});

it('platform schedules list finds a tenant schedule in its queue', async () => {
  const result = await cli(['schedules', 'list', '--json']);
  expect(result.code).toBe(0);
  const parsed = JSON.parse(result.stdout) as { schedules: Array<{ queue: string; tenantId: string; scheduleId: string }> };
  expect(parsed.schedules.map((s) => [s.queue, s.tenantId, s.scheduleId])).toEqual([['rag__ingestion', 'acme', 'nightly']]);
});

it('the dashboard shows every queue of every master, and the tenants across them', async () => {
  const token = 'cluster-admin-token-0123456789';
  const handler = createDashboard({ redis: ctx.connect(), keyPrefix: keyRoot, token, env: {}, cacheMs: 0 });
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const overview = JSON.parse((await get('/api/overview')).body) as { queues: Array<{ name: string; counts: Record<string, number> }>; redis: { checks: Array<{ id: string }> } };
    expect(overview.queues.map((q) => q.name).sort()).toEqual([...QUEUES, 'rag__failing'].sort());
    for (const q of overview.queues.filter((x) => x.name !== 'rag__failing')) expect(q.counts.waiting).toBe(3);
    expect(overview.redis.checks.some((c) => c.id === 'cluster-slots')).toBe(true);
    const tenants = JSON.parse((await get('/api/tenants?sort=backlog&dir=desc')).body) as { rows: Array<{ tenantId: string; waiting: number }> };
    expect(tenants.rows.map((r) => [r.tenantId, r.waiting])).toEqual([
      // acme's replayed job of rag__failing (previous test) waits again too.
      ['acme', 2 * QUEUES.length + 1],
      ['globex', QUEUES.length],
    ]);
    const page = await get('/tenants/acme');
    expect(page.status).toBe(200);
    const board = JSON.parse((await get('/jobs/api/queues')).body) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    expect(board.queues.map((q) => q.name).sort()).toEqual([...QUEUES, 'rag__failing'].sort());
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await handler.close();
  }
});
