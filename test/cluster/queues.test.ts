// Queues on a real 3-master cluster: each queue's keys share its own hash tag, so one queue lives on
// one master and many queues spread over all of them; workers, waitForReplicas and the operators'
// views (SCAN per master) work there.
import { z } from 'zod';
import { createWorker, defineQueue, type QueueDefinition } from '@platform/queue';
import { getQueueStats, listFailedJobs, listPlatformQueues, retryFailedJobs } from '@platform/ops';
import { bullPrefixFor } from '@platform/redis';
import { uniquePrefix, waitFor } from '@platform/testing';
import { keySlot } from '../../packages/queue/src/slot';
import { CLUSTER_TEST_TIMEOUT_MS, keysPerMaster, size, useRedisCluster } from './cluster-setup';

jest.setTimeout(CLUSTER_TEST_TIMEOUT_MS);

const ctx = useRedisCluster();
const schema = z.object({ n: z.number() });
const definitions: QueueDefinition[] = [];
afterAll(async () => {
  await Promise.all(definitions.map((definition) => definition.close()));
});

let producer: ReturnType<typeof ctx.connect> | undefined;

function queue(namespace: string, name: string, extra: Partial<Parameters<typeof defineQueue>[0]> = {}): QueueDefinition<typeof schema> {
  producer ??= ctx.connect();
  // A generous enqueue bound: the suite shares 2 cores with 6 cluster nodes and other work.
  const definition = defineQueue({ namespace, name, schema, connection: producer, enqueueTimeoutMs: 30_000, ...extra });
  definitions.push(definition as unknown as QueueDefinition);
  return definition;
}

it('the cluster prefix is the standalone one plus the queue hash tag; standalone keys are unchanged', () => {
  expect(bullPrefixFor('')).toBe('bull');
  expect(bullPrefixFor('acme')).toBe('acme:bull');
  expect(bullPrefixFor('', 'agent__blog-writer')).toBe('bull:{agent__blog-writer}');
  expect(bullPrefixFor('acme', 'agent__blog-writer')).toBe('acme:bull:{agent__blog-writer}');
  // CRC16 as Redis computes it (CLUSTER KEYSLOT), and the tag decides the slot.
  expect(keySlot('123456789')).toBe(12739);
  expect(keySlot('bull:{agent__x}:agent__x:wait')).toBe(keySlot('agent__x'));
});

it('30 queues spread over all 3 masters, each queue entirely on one master', async () => {
  const namespace = uniquePrefix('spread');
  const queues = Array.from({ length: 30 }, (_, i) => queue(namespace, `q${i}`));
  for (const [i, definition] of queues.entries()) {
    expect(definition.settings.prefix).toBe(`bull:{${definition.name}}`);
    await definition.enqueue({ tenantId: 'acme', n: i });
  }
  const client = ctx.connect();
  const perMaster = await keysPerMaster(client, `bull:{${namespace}__*`);
  expect(perMaster.size).toBe(3);
  // Every master holds keys of some queues (30 tags over 3 masters), and no queue is split.
  expect([...perMaster.values()].every((count) => count > 0)).toBe(true);
  for (const definition of queues) {
    const holders = await keysPerMaster(client, `bull:{${definition.name}}:*`);
    expect([...holders.values()].filter((count) => count > 0)).toHaveLength(1);
  }
  const counts = await Promise.all(queues.map((definition) => definition.counts()));
  expect(counts.every((c) => c.waiting === 1)).toBe(true);

  // The operators' views SCAN every master.
  expect(await listPlatformQueues(client)).toEqual(expect.arrayContaining(queues.map((d) => d.name)));
  const stats = await getQueueStats(client, { queues: queues.map((d) => d.name) });
  expect(stats.map((s) => s.counts.waiting)).toEqual(queues.map(() => 1));
  expect(stats[0]!.topTenants).toEqual([{ tenantId: 'acme', waiting: 1 }]);
});

it('workers process every job of 3 queues on 3 masters; failed jobs are listed and replayed', async () => {
  const namespace = uniquePrefix('e2e');
  const queues = ['a', 'b', 'c'].map((name) => queue(namespace, name));
  const perQueue = size(300, 60);
  const seen = new Set<string>();
  let failOnce = true;
  const workers = queues.map((definition) =>
    createWorker(
      definition,
      async (job) => {
        if (job.data.n === 0 && definition === queues[0] && failOnce) {
          failOnce = false;
          throw new Error('first attempt fails');
        }
        seen.add(`${definition.name}:${job.data.n}`);
      },
      { connection: ctx.connect('worker'), handleSignals: false, concurrency: 10 },
    ),
  );
  try {
    for (const definition of queues) {
      await definition.enqueueBulk(Array.from({ length: perQueue }, (_, n) => ({ tenantId: `t${n % 7}`, n })), { attempts: 1 });
    }
    await waitFor(() => seen.size === queues.length * perQueue - 1, 120_000, 50);
    const client = ctx.connect();
    const failed = await waitFor(async () => (await listFailedJobs(client, queues[0]!.name)).filter((job) => job.failedReason === 'first attempt fails'), 10_000);
    expect(failed).toHaveLength(1);
    const replay = await retryFailedJobs(client, queues[0]!.name);
    expect(replay.retried).toHaveLength(1);
    await waitFor(() => seen.size === queues.length * perQueue, 30_000, 50);
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
  }
});

it('waitForReplicas resolves once the replica of the queue master has the job', async () => {
  const definition = queue(uniquePrefix('wait'), 'replicated', { waitForReplicas: { replicas: 1, timeoutMs: 5000 } });
  for (let i = 0; i < 10; i += 1) await definition.enqueue({ tenantId: 'acme', n: i });
  expect((await definition.counts()).waiting).toBe(10);
});
