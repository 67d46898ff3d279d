import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { defineQueue, type QueueDefinition } from '@platform/queue';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { enqueueInTransaction } from './enqueue';
import { startOutboxRelay } from './relay';
import { countRows, startTestDatabase, type TestDatabase } from './test-support';

// Relay processes run test-fixtures/relay.js against the built package (npm test builds first).
const FIXTURE = join(__dirname, '../test-fixtures/relay.js');
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
let db: TestDatabase;
const prefixes: string[] = [];
const definitions: QueueDefinition[] = [];
const children = new Set<ChildProcess>();

interface Message {
  event: 'ready' | 'mid-batch' | 'stopped' | 'error';
  jobIds?: string[];
  stats?: { moved: number; failed: number };
  message?: string;
}

beforeAll(async () => {
  db = await startTestDatabase();
}, 120_000);
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.all(definitions.splice(0).map((d) => d.close()));
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysByPrefix(redis, prefix);
  redis.disconnect();
  await db?.stop();
});

async function setup() {
  const prefix = uniquePrefix('mp');
  prefixes.push(prefix);
  const schema = await db.freshSchema();
  const definition = defineQueue({ namespace: 'agent', name: 'mp', schema: z.object({ n: z.number().int() }), prefix, connection: redis });
  definitions.push(definition);
  const spawnRelay = async (options: { batchSize: number; hangAfterEnqueue?: boolean }) => {
    const messages: Message[] = [];
    const child = fork(FIXTURE, [JSON.stringify({ pgUrl: db.url, schema, prefix, ...options })], { env: { ...process.env }, stdio: 'ignore' });
    children.add(child);
    child.on('message', (m) => messages.push(m as Message));
    child.once('exit', () => children.delete(child));
    await waitFor(() => messages.some((m) => m.event === 'ready'), 20_000);
    return { child, messages };
  };
  const stopRelay = async (child: ChildProcess, messages: Message[]) => {
    child.kill('SIGTERM');
    await waitFor(() => messages.find((m) => m.event === 'stopped'), 20_000);
    return messages.find((m) => m.event === 'stopped')!.stats!;
  };
  /** `count` rows in `transactions` transactions on parallel clients; resolves with the job ids. */
  const write = async (count: number, transactions: number): Promise<string[]> => {
    const per = Math.ceil(count / transactions);
    const chunks = await Promise.all(
      Array.from({ length: transactions }, (_, t) =>
        db.transaction(async (client) => {
          const ids: string[] = [];
          for (let n = t * per; n < Math.min(count, (t + 1) * per); n += 1) {
            ids.push((await enqueueInTransaction(client, definition, { tenantId: 'acme', n }, { outboxSchema: schema })).jobId);
          }
          return ids;
        }),
      ),
    );
    return chunks.flat();
  };
  const jobIds = async () => (await definition.queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1)).map((j) => j.id!).sort();
  const events = async (name: string) =>
    (await redis.xrange(`${prefix}:agent__mp:events`, '-', '+')).filter(([, fields]) => fields[1] === name).length;
  return { prefix, schema, definition, spawnRelay, stopRelay, write, jobIds, events };
}

test('3 relay processes over 5,000 rows: every row becomes exactly one job, and no row is moved twice', async () => {
  const { schema, spawnRelay, stopRelay, write, jobIds, events } = await setup();
  const relays = await Promise.all([1, 2, 3].map(() => spawnRelay({ batchSize: 100 })));
  const ids = await write(5000, 10);
  await waitFor(async () => (await countRows(db.pool, schema)).moved === 5000, 60_000, 200);
  const stats = await Promise.all(relays.map(({ child, messages }) => stopRelay(child, messages)));
  // Each relay counts the rows it committed as moved: the sum is 5,000 only if none was moved twice.
  expect(stats.reduce((sum, s) => sum + s.moved, 0)).toBe(5000);
  expect(await jobIds()).toEqual([...ids].sort());
  expect(new Set(ids).size).toBe(5000);
  expect(await events('duplicated')).toBe(0);
  expect(await countRows(db.pool, schema)).toEqual({ total: 5000, pending: 0, moved: 5000, failed: 0 });
}, 120_000);

test('a relay SIGKILLed mid-batch (jobs added, rows not committed): nothing is lost and nothing is duplicated', async () => {
  const { schema, definition, spawnRelay, write, jobIds, events } = await setup();
  const ids = await write(300, 3);
  const { child, messages } = await spawnRelay({ batchSize: 100, hangAfterEnqueue: true });
  const mid = await waitFor(() => messages.find((m) => m.event === 'mid-batch'), 20_000);
  expect(mid.jobIds).toHaveLength(100);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  // The killed batch never committed: its rows are still pending, though its jobs are in BullMQ.
  expect((await countRows(db.pool, schema)).pending).toBe(300);
  expect(await jobIds()).toHaveLength(100);

  const relay = startOutboxRelay({ pool: db.pool, schema, queues: [definition], notifications: false, listen: false, pollIntervalMs: 100 });
  try {
    await waitFor(async () => (await countRows(db.pool, schema)).moved === 300, 20_000, 100);
  } finally {
    await relay.stop();
  }
  expect(await jobIds()).toEqual([...ids].sort());
  expect(ids).toEqual(expect.arrayContaining(mid.jobIds!));
  // The 100 rows of the killed batch were moved again; BullMQ refused the twins by job id.
  expect(await events('duplicated')).toBe(100);
}, 60_000);
