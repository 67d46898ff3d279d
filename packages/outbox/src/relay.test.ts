import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineQueue, type QueueDefinition } from '@platform/queue';
import { createRedisConnection, InvalidArgumentError, loadRedisConfig } from '@platform/redis';
import { startRedisServer, uniquePrefix, waitFor } from '@platform/testing';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { enqueueInTransaction } from './enqueue';
import { getOutboxLag } from './lag';
import { OUTBOX_METRIC_NAMES } from './metrics';
import { startOutboxRelay, type OutboxRelayOptions } from './relay';
import { countRows, useOutboxTestContext } from './test-support';

const context = useOutboxTestContext();
const { redis, prefixes, definitions, relays } = context;

const jobSchema = z.object({ n: z.number().int() });

async function setup(relayOptions: Partial<OutboxRelayOptions> = {}, connection = redis) {
  const prefix = uniquePrefix('relay');
  prefixes.push(prefix);
  const schema = await context.db.freshSchema();
  const definition = defineQueue({ namespace: 'agent', name: 'relayed', schema: jobSchema, prefix, connection });
  definitions.push(definition);
  const start = (extra: Partial<OutboxRelayOptions> = {}) => {
    const relay = startOutboxRelay({ pool: context.db.pool, schema, queues: [definition], notifications: false, ...relayOptions, ...extra });
    relays.push(relay);
    return relay;
  };
  const write = (count: number, from = 0) =>
    context.db.transaction(async (client) => {
      const ids: string[] = [];
      for (let n = from; n < from + count; n += 1) {
        ids.push((await enqueueInTransaction(client, definition, { tenantId: 'acme', n }, { outboxSchema: schema })).jobId);
      }
      return ids;
    });
  const jobIds = async () => (await definition.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'])).map((j) => j.id!).sort();
  return { prefix, schema, definition, start, write, jobIds };
}

test('LISTEN/NOTIFY wakes the relay at commit (the poll alone would take a minute)', async () => {
  const { start, write, jobIds } = await setup({ pollIntervalMs: 60_000 });
  const relay = start();
  await waitFor(() => relay.stats().listening, 5000);
  const ids = await write(3);
  await waitFor(async () => (await jobIds()).length === 3, 2000);
  expect(await jobIds()).toEqual([...ids].sort());
});

test('a LISTEN connection that PostgreSQL drops is re-established, and NOTIFY wakes the relay again', async () => {
  const errors: Error[] = [];
  const { schema, start, write, jobIds } = await setup({ pollIntervalMs: 60_000, retryDelayMs: 100, maxRetryDelayMs: 200, onError: (e) => errors.push(e) });
  const relay = start();
  await waitFor(() => relay.stats().listening, 5000);
  const killed = await context.db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${schema}_outbox"`]);
  expect(killed.rowCount).toBe(1);
  await waitFor(() => !relay.stats().listening, 5000);
  await waitFor(() => relay.stats().listening, 5000);
  expect(errors.some((e) => e.message.includes('relay LISTEN'))).toBe(true);
  const ids = await write(2);
  await waitFor(async () => (await jobIds()).length === 2, 2000);
  expect(await jobIds()).toEqual([...ids].sort());
});

test('without LISTEN the poll moves the rows', async () => {
  const { start, write, jobIds } = await setup({ listen: false, pollIntervalMs: 100 });
  const relay = start();
  const ids = await write(5);
  await waitFor(() => relay.stats().moved === 5, 3000);
  expect(await jobIds()).toEqual([...ids].sort());
  expect(relay.stats()).toMatchObject({ moved: 5, failed: 0, listening: false });
});

test('keepMovedMs: 0 deletes moved rows; otherwise marks are kept and pruned once old', async () => {
  const deleting = await setup({ listen: false, pollIntervalMs: 50, keepMovedMs: 0 });
  deleting.start();
  await deleting.write(4);
  await waitFor(async () => (await countRows(context.db.pool, deleting.schema)).total === 0, 3000);
  expect(await deleting.jobIds()).toHaveLength(4);

  const marking = await setup({ listen: false, pollIntervalMs: 50, keepMovedMs: 1500, pruneIntervalMs: 100 });
  marking.start();
  await marking.write(4);
  await waitFor(async () => (await countRows(context.db.pool, marking.schema)).moved === 4, 3000);
  await waitFor(async () => (await countRows(context.db.pool, marking.schema)).total === 0, 5000);
  expect(await marking.jobIds()).toHaveLength(4);
});

test('a row that no longer validates is marked failed with the reason; the rest of its batch moves', async () => {
  const { prefix, schema, start, write, jobIds } = await setup({ listen: false, pollIntervalMs: 60_000 });
  await write(2);
  // The relay knows the queue with a stricter schema (as after a deploy that changed it).
  const strict = defineQueue({ namespace: 'agent', name: 'relayed', schema: z.object({ n: z.number().int().min(1) }), prefix, connection: redis });
  definitions.push(strict);
  const relay = start({ queues: [strict] });
  await relay.drain();
  expect(await countRows(context.db.pool, schema)).toEqual({ total: 2, pending: 0, moved: 1, failed: 1 });
  const failed = await context.db.pool.query(`SELECT payload, last_error FROM "${schema}".outbox WHERE failed_at IS NOT NULL`);
  expect(failed.rows[0].payload).toEqual({ tenantId: 'acme', n: 0 });
  expect(failed.rows[0].last_error).toMatch(/Invalid payload for queue agent__relayed: n: /);
  expect(await jobIds()).toHaveLength(1);
  expect(relay.stats()).toMatchObject({ moved: 1, failed: 1 });
});

test('a row whose stored job options BullMQ refuses is marked failed; it does not hold back the rows behind it', async () => {
  const { schema, start, write, jobIds } = await setup({ listen: false, pollIntervalMs: 60_000 });
  // As written before enqueueInTransaction checked the priority (or by hand): BullMQ's add throws.
  await context.db.pool.query(
    `INSERT INTO "${schema}".outbox (id, kind, queue, tenant_id, job_id, payload, options)
     VALUES (gen_random_uuid(), 'job', 'agent__relayed', 'acme', 'bad-priority', '{"tenantId":"acme","n":1}', '{"priority":3000000}')`,
  );
  const ids = await write(2);
  const relay = start();
  await relay.drain();
  expect(await jobIds()).toEqual([...ids].sort());
  const failed = await context.db.pool.query(`SELECT job_id, last_error FROM "${schema}".outbox WHERE failed_at IS NOT NULL`);
  expect(failed.rows).toEqual([{ job_id: 'bad-priority', last_error: expect.stringMatching(/priority/) }]);
  expect(relay.stats()).toMatchObject({ moved: 2, failed: 1, errors: 0 });
});

test('stored job options the queue or BullMQ refuse only at add time mark their rows failed; the rows behind them move', async () => {
  const { schema, start, write, jobIds } = await setup({ listen: false, pollIntervalMs: 60_000 });
  // As written before enqueueInTransaction checked these options (or by hand).
  const bad: Array<[string, Record<string, unknown>]> = [
    ['bad-priority', { priority: -1 }],
    ['bad-attempts', { attempts: 1.5 }],
    ['bad-delay', { delay: 'soon' }],
    ['-5', {}],
    ['bad-parent', { failParentOnFailure: true, removeDependencyOnFailure: true }],
    ['bad-dedup', { deduplication: { ttl: 1000 } }],
    ['bad-debounce', { debounce: { id: 'd' } }],
    ['bad-jitter', { backoff: { type: 'fixed', delay: 10, jitter: 2 } }],
    ['bad-size', { sizeLimit: 5 }],
    ['bad-timeouts', { timeouts: { softMs: 0 } }],
  ];
  for (const [jobId, options] of bad) {
    await context.db.pool.query(
      `INSERT INTO "${schema}".outbox (id, kind, queue, tenant_id, job_id, payload, options)
       VALUES (gen_random_uuid(), 'job', 'agent__relayed', 'acme', $1, '{"tenantId":"acme","n":1}', $2)`,
      [jobId, JSON.stringify(options)],
    );
  }
  const ids = await write(2);
  const relay = start();
  await relay.drain();
  expect(await jobIds()).toEqual([...ids].sort());
  const failed = await context.db.pool.query(`SELECT job_id FROM "${schema}".outbox WHERE failed_at IS NOT NULL`);
  expect(failed.rows.map((r) => r.job_id).sort()).toEqual(bad.map(([jobId]) => jobId).sort());
  expect(relay.stats()).toMatchObject({ moved: 2, failed: bad.length, errors: 0 });
});

test('a row whose parent job BullMQ cannot find is marked failed; it does not hold back the rows behind it', async () => {
  const { prefix, schema, definition, start, write, jobIds } = await setup({ listen: false, pollIntervalMs: 60_000 });
  await context.db.transaction((client) =>
    enqueueInTransaction(client, definition, { tenantId: 'acme', n: 1 }, { outboxSchema: schema, jobId: 'orphan', parent: { id: 'gone', queue: `${prefix}:agent__relayed` } }),
  );
  const ids = await write(2);
  const relay = start();
  await relay.drain();
  expect(await jobIds()).toEqual([...ids].sort());
  const failed = await context.db.pool.query(`SELECT job_id, last_error FROM "${schema}".outbox WHERE failed_at IS NOT NULL`);
  expect(failed.rows).toEqual([{ job_id: 'orphan', last_error: expect.stringMatching(/parent/) }]);
  expect(relay.stats()).toMatchObject({ moved: 2, failed: 1, errors: 0 });
});

test('rows of queues a relay does not know are left for the relay that does', async () => {
  const { schema, start, write } = await setup({ listen: false, pollIntervalMs: 60_000 });
  await write(3);
  const other = defineQueue({ namespace: 'agent', name: 'other', schema: jobSchema, prefix: uniquePrefix('relay'), connection: redis });
  definitions.push(other);
  const relay = start({ queues: [other] });
  expect(await relay.drain()).toBe(0);
  expect((await countRows(context.db.pool, schema)).pending).toBe(3);
});

test('relay lag: getOutboxLag, stats().lagMs and the prom-client series', async () => {
  const { schema, start, write } = await setup({ listen: false, pollIntervalMs: 100 });
  await write(2);
  await new Promise((r) => setTimeout(r, 300));
  const before = await getOutboxLag(context.db.pool, { schema });
  expect(before.pendingRows).toBe(2);
  expect(before.oldestPendingAgeMs).toBeGreaterThanOrEqual(250);
  const registry = new Registry();
  const relay = start({ registry });
  await waitFor(() => relay.stats().moved === 2, 3000);
  await waitFor(() => relay.stats().lagMs === 0, 3000);
  expect(await getOutboxLag(context.db.pool, { schema })).toMatchObject({ pendingRows: 0, oldestPendingAgeMs: 0, movedRows: 2, failedRows: 0 });
  const text = await registry.metrics();
  expect(text).toContain(`${OUTBOX_METRIC_NAMES.rowsMoved}{schema="${schema}",kind="job"} 2`);
  expect(text).toContain(`${OUTBOX_METRIC_NAMES.moveLatency}_count{schema="${schema}"} 2`);
  expect(text).toContain(`${OUTBOX_METRIC_NAMES.lag}{schema="${schema}"} 0`);
  // A second relay in the same registry reuses the series.
  start({ registry });
});

test('stop() lets the batch in flight commit, then stops listening and polling', async () => {
  const { schema, start, write, jobIds } = await setup({ listen: true, pollIntervalMs: 50, batchSize: 50 });
  await write(400);
  const relay = start();
  await waitFor(() => relay.stats().moved > 0, 5000);
  await relay.stop();
  const rows = await countRows(context.db.pool, schema);
  expect(rows.moved).toBe(relay.stats().moved);
  expect(await jobIds()).toHaveLength(rows.moved);
  expect(relay.stats().listening).toBe(false);
  await write(1, 1000);
  await new Promise((r) => setTimeout(r, 300));
  expect((await countRows(context.db.pool, schema)).moved).toBe(rows.moved);
});

test('stop() returns while the LISTEN connection still waits for a pool connection (a pool the service has exhausted)', async () => {
  const schema = await context.db.freshSchema();
  let calls = 0;
  // The listener asks first; its connection never comes. The batches get theirs.
  const pool = {
    connect: () => (calls++ === 0 ? new Promise<never>(() => undefined) : context.db.pool.connect()),
    query: (text: string, values?: unknown[]) => context.db.pool.query(text, values),
  } as unknown as Pool;
  const relay = startOutboxRelay({ pool, schema, notifications: false, listen: true, pollIntervalMs: 60_000 });
  await relay.drain();
  const outcome = await Promise.race([relay.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 2000))]);
  expect(outcome).toBe('stopped');
});

test('a batch whose move fails rolls back only once every other move of the batch has settled', async () => {
  const schema = await context.db.freshSchema();
  let slowDone = false;
  const fake = (name: string, enqueueBulk: () => Promise<unknown>) =>
    ({ name, parse: (payload: unknown) => payload, settings: { maxPayloadBytes: 1_000_000 }, enqueueBulk }) as unknown as QueueDefinition;
  const failing = fake('agent__failing', () => Promise.reject(new Error('Redis went away')));
  const slow = fake('agent__slow', () => new Promise((r) => setTimeout(() => r((slowDone = true)), 300)));
  for (const queue of ['agent__failing', 'agent__slow']) {
    await context.db.pool.query(
      `INSERT INTO "${schema}".outbox (id, kind, queue, tenant_id, job_id, payload, options)
       VALUES (gen_random_uuid(), 'job', $1, 'acme', gen_random_uuid()::text, '{"tenantId":"acme","n":1}', '{}')`,
      [queue],
    );
  }
  const relay = startOutboxRelay({ pool: context.db.pool, schema, queues: [failing, slow], notifications: false, listen: false, pollIntervalMs: 60_000, onError: () => undefined });
  relays.push(relay);
  await expect(relay.drain()).rejects.toThrow('Redis went away');
  // The rows were still locked while the slow queue's add ran: no other relay could move them meanwhile.
  expect(slowDone).toBe(true);
});

test('bad relay options are refused', () => {
  expect(() => startOutboxRelay({ pool: undefined as never })).toThrow(InvalidArgumentError);
  expect(() => startOutboxRelay({ pool: context.db.pool, batchSize: 0 })).toThrow(InvalidArgumentError);
  expect(() => startOutboxRelay({ pool: context.db.pool, schema: 'Nope' })).toThrow(InvalidArgumentError);
  expect(() => startOutboxRelay({ pool: context.db.pool, queues: [{} as never] })).toThrow(InvalidArgumentError);
});

// FAULTS=full: the full 10 s outage; npm test uses a shorter one.
const OUTAGE_MS = process.env.FAULTS === 'full' ? 10_000 : 3_000;

test(`Redis down for ${OUTAGE_MS / 1000} s: committed rows wait and move once it is back, each exactly once`, async () => {
  // AOF in a directory of the test's own, so the jobs from before the outage survive it.
  const dir = mkdtempSync(join(tmpdir(), 'outbox-redis-'));
  const server = await startRedisServer({ dir, args: ['--appendonly', 'yes'] });
  const connection = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'producer' });
  const errors: Error[] = [];
  try {
    const { schema, start, write, jobIds } = await setup({ listen: true, pollIntervalMs: 200, onError: (e) => errors.push(e) }, connection);
    const relay = start();
    const before = await write(10);
    await waitFor(async () => (await jobIds()).length === 10, 5000);

    await server.stop();
    const during = [...(await write(20, 100)), ...(await write(20, 200))];
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    expect((await countRows(context.db.pool, schema)).pending).toBe(40);
    expect(relay.stats().errors).toBeGreaterThan(0);

    await server.restart();
    await waitFor(async () => (await countRows(context.db.pool, schema)).pending === 0, 20_000, 100);
    expect(await jobIds()).toEqual([...before, ...during].sort());
    expect(errors.length).toBeGreaterThan(0);
  } finally {
    connection.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
