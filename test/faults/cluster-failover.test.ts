// Fault: SIGKILL a cluster master under load. Its replica is promoted; with waitForReplicas every
// enqueue that resolved was on the replica before it resolved, so every one of them is processed.
import { z } from 'zod';
import { createWorker, defineQueue, QueueNotReplicatedError, QueueUnavailableError, type QueueDefinition } from '@platform/queue';
import { closeConnection, createRedisConnection, loadRedisConfig, type RedisClient } from '@platform/redis';
import { startRedisCluster, type RedisCluster } from '@platform/testing';
import type { Cluster } from 'ioredis';
import { masterFor } from '../../packages/queue/src/slot';
import { FAULT_TEST_TIMEOUT_MS, size, sleep } from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

let cluster: RedisCluster;
const clients: RedisClient[] = [];
const definitions: QueueDefinition[] = [];

function connect(role: 'producer' | 'worker'): Cluster {
  const client = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv }), { role, commandTimeoutMs: 10_000 });
  clients.push(client);
  return client as Cluster;
}

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
}, 120_000);

afterAll(async () => {
  await Promise.all(definitions.map((definition) => definition.close()));
  await Promise.all(clients.map((client) => closeConnection(client)));
  await cluster?.stop();
  printSummaryIfComplete();
}, 60_000);

it('cluster-failover: a master SIGKILLed under load; its replica takes over; 0 acknowledged jobs lost', async () => {
  const started = Date.now();
  const schema = z.object({ n: z.number() });
  const producer = connect('producer');
  const queues = ['a', 'b', 'c'].map((name) =>
    defineQueue({ namespace: 'clusterfault', name, schema, connection: producer, enqueueTimeoutMs: 8000, waitForReplicas: { replicas: 1, timeoutMs: 1000 } }),
  );
  definitions.push(...(queues as unknown as QueueDefinition[]));

  const processed = new Set<string>();
  // Completions per job id, from the workers' events: a completion the failed master had not yet
  // passed to its replica is lost with it, and the job runs (and completes) again on the new master.
  const completions = new Map<string, number>();
  let runs = 0;
  const workers = queues.map((definition) => {
    const worker = createWorker(
      definition,
      async (job) => {
        runs += 1;
        processed.add(`${definition.name}/${job.id}`);
      },
      { connection: connect('worker'), handleSignals: false, concurrency: 20 },
    );
    worker.on('completed', (job) => {
      const id = `${definition.name}/${job.id}`;
      completions.set(id, (completions.get(id) ?? 0) + 1);
    });
    return worker;
  });

  const acked = new Set<string>();
  let notReplicated = 0;
  let unavailable = 0;
  const untyped: string[] = [];
  let stop = false;
  let sequence = 0;
  const producerLoop = async (definition: (typeof queues)[number]) => {
    while (!stop) {
      const n = (sequence += 1);
      const jobId = `job-${n}`;
      try {
        await definition.enqueue({ tenantId: `t${n % 10}`, n }, { jobId });
        acked.add(`${definition.name}/${jobId}`);
      } catch (error) {
        if (error instanceof QueueNotReplicatedError) notReplicated += 1;
        else if (error instanceof QueueUnavailableError) unavailable += 1;
        else untyped.push(error instanceof Error ? error.message : String(error));
        await sleep(50);
      }
    }
  };
  const loops = queues.flatMap((definition) => [producerLoop(definition), producerLoop(definition)]);

  const beforeKill = size(3000, 400);
  while (acked.size < beforeKill) await sleep(20);
  const ackedBeforeKill = acked.size;

  // The master of the first queue's slot dies without a word.
  const victim = masterFor(producer, `${queues[0]!.settings.prefix}:${queues[0]!.name}:meta`);
  const victimPort = Number(victim?.options.port);
  const victimNode = cluster.nodes.find((node) => node.port === victimPort);
  if (!victimNode) throw new Error(`no node on port ${victimPort}`);
  const killedAt = Date.now();
  await victimNode.server.kill();
  // Promoted once the cluster lists 3 healthy masters without the victim, and every node is ok.
  for (let masters = await cluster.masterPorts(); masters.includes(victimPort) || masters.length !== 3; masters = await cluster.masterPorts()) {
    if (Date.now() - killedAt > 60_000) throw new Error(`no replica promoted within 60 s: masters ${masters.join(',')}`);
    await sleep(50);
  }
  await cluster.waitUntilOk(60_000);
  const promotedAfterMs = Date.now() - killedAt;
  const masters = await cluster.masterPorts();

  // Keep enqueueing after the failover, then stop and let the workers drain.
  const afterFailover = acked.size + size(3000, 400);
  const deadline = Date.now() + 120_000;
  while (acked.size < afterFailover && Date.now() < deadline) await sleep(20);
  stop = true;
  await Promise.all(loops);
  const drainDeadline = Date.now() + 120_000;
  while ([...acked].some((id) => !processed.has(id)) && Date.now() < drainDeadline) await sleep(100);
  await Promise.all(workers.map((worker) => worker.close()));

  const lost = [...acked].filter((id) => !processed.has(id));
  const passed = lost.length === 0 && untyped.length === 0 && !masters.includes(victimPort) && masters.length === 3;
  recordScenario({
    scenario: 'cluster-failover',
    faults: 1,
    jobs: acked.size,
    lost: lost.length,
    duplicates: [...completions.values()].filter((count) => count > 1).length,
    extra: {
      'masters / replicas': '3 / 3',
      'acked before the kill': ackedBeforeKill,
      'acked after the kill': acked.size - ackedBeforeKill,
      'refused QueueNotReplicatedError': notReplicated,
      'refused QueueUnavailableError': unavailable,
      'untyped errors': untyped.length,
      'replica promoted, cluster ok after ms': promotedAfterMs,
      'handler runs': runs,
    },
    passed,
    size: size(1, 0) === 1 ? 'full' : 'reduced',
    seconds: Math.round((Date.now() - started) / 100) / 10,
  });
  expect(untyped).toEqual([]);
  expect(masters).not.toContain(victimPort);
  expect(masters).toHaveLength(3);
  expect(acked.size).toBeGreaterThan(ackedBeforeKill);
  expect(lost).toEqual([]);
});
