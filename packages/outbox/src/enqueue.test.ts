import { closeNotificationQueues, notifyOnce, NotificationValidationError } from '@platform/notifications';
import { defineQueue, notificationQueue, PayloadTooLargeError, PayloadValidationError } from '@platform/queue';
import { InvalidArgumentError } from '@platform/redis';
import { uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { enqueueInTransaction } from './enqueue';
import { notifyOnceInTransaction } from './notify';
import { startOutboxRelay } from './relay';
import { countRows, useOutboxTestContext } from './test-support';

const context = useOutboxTestContext(closeNotificationQueues);
const { redis, prefixes, definitions, relays } = context;

const schemaOf = z.object({ postId: z.string().min(1), words: z.number().int().positive().default(800) });

async function setup(options: { maxPayloadBytes?: number } = {}) {
  const prefix = uniquePrefix('outbox');
  prefixes.push(prefix);
  const schema = await context.db.freshSchema();
  const definition = defineQueue({ namespace: 'agent', name: 'writer', schema: schemaOf, prefix, connection: redis, ...options });
  definitions.push(definition);
  // No LISTEN and a long poll: tests move rows with drain(), so what happens is what the test did.
  const relay = startOutboxRelay({ pool: context.db.pool, schema, queues: [definition], notifications: { connection: redis, keyPrefix: prefix }, listen: false, pollIntervalMs: 60_000 });
  relays.push(relay);
  await relay.drain(); // after the relay's first pass (on an empty outbox), only drain() moves rows
  return { prefix, schema, definition, relay };
}

test('a rolled-back transaction enqueues nothing', async () => {
  const { schema, definition, relay } = await setup();
  await expect(
    context.db.transaction(async (client) => {
      await enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p1' }, { outboxSchema: schema });
      throw new Error('business rule failed');
    }),
  ).rejects.toThrow('business rule failed');
  expect(await relay.drain()).toBe(0);
  expect(await countRows(context.db.pool, schema)).toEqual({ total: 0, pending: 0, moved: 0, failed: 0 });
  expect(await definition.queue.getJobCountByTypes('waiting', 'delayed', 'prioritized')).toBe(0);
});

test('a committed transaction enqueues exactly one job, with the row id as job id and the payload as enqueue parses it', async () => {
  const { schema, definition, relay } = await setup();
  const written = await context.db.transaction((client) =>
    enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p1' }, { outboxSchema: schema, priority: 3 }),
  );
  expect(written.jobId).toBe(written.id);
  expect(await relay.drain()).toBe(1);
  const jobs = await definition.queue.getJobs(['waiting', 'prioritized', 'delayed']);
  expect(jobs.map((j) => j.id)).toEqual([written.id]);
  expect(jobs[0]!.data).toEqual({ tenantId: 'acme', postId: 'p1', words: 800 });
  expect(jobs[0]!.opts.priority).toBe(3);
  expect(await countRows(context.db.pool, schema)).toEqual({ total: 1, pending: 0, moved: 1, failed: 0 });

  // Moving the same row again (as after a relay died before its commit) adds nothing.
  await context.db.pool.query(`UPDATE "${schema}".outbox SET moved_at = NULL`);
  expect(await relay.drain()).toBe(1);
  expect(await definition.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(1);
});

test('a job not yet committed is not moved; it is once the transaction commits', async () => {
  const { schema, definition, relay } = await setup();
  const client = await context.db.pool.connect();
  try {
    await client.query('BEGIN');
    await enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p2' }, { outboxSchema: schema });
    expect(await relay.drain()).toBe(0);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  expect(await relay.drain()).toBe(1);
});

test('a custom jobId is used as the BullMQ job id; a bad one is refused', async () => {
  const { schema, definition, relay } = await setup();
  const written = await context.db.transaction((client) =>
    enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p3' }, { outboxSchema: schema, jobId: 'post-p3' }),
  );
  expect(written.jobId).toBe('post-p3');
  await relay.drain();
  expect((await definition.queue.getJob('post-p3'))?.data.postId).toBe('p3');
  for (const jobId of ['42', 'a:b', '']) {
    await expect(
      context.db.transaction((client) => enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p4' }, { outboxSchema: schema, jobId })),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  }
  expect((await countRows(context.db.pool, schema)).total).toBe(1);
});

test('job options BullMQ would refuse at the relay (a priority that is not an integer up to 2^21 - 1) are refused and write no row', async () => {
  const { schema, definition, relay } = await setup();
  for (const priority of [3_000_000, 1.5, '7'] as number[]) {
    await expect(
      context.db.transaction((client) => enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p5' }, { outboxSchema: schema, priority })),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      context.db.transaction((client) =>
        notifyOnceInTransaction(
          client,
          { tenantId: 'acme', type: 'welcome', dedupeKey: 'p5', channel: 'email', payload: { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' } },
          { outboxSchema: schema, jobOptions: { priority } },
        ),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  }
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect(await relay.drain()).toBe(0);
});

// Each of these is refused by the queue's enqueue or by BullMQ's add, never before the relay's batch.
const refusedAtAdd: Array<[string, Record<string, unknown>]> = [
  ['a negative priority', { priority: -1 }],
  ['fractional attempts', { attempts: 1.5 }],
  ['a delay that is not a number', { delay: 'soon' }],
  ['a negative integer job id', { jobId: '-5' }],
  ['two parent failure policies', { failParentOnFailure: true, removeDependencyOnFailure: true }],
  ['deduplication without an id', { deduplication: { ttl: 1000 } }],
  ['the removed debounce option', { debounce: { id: 'd' } }],
  ['a backoff jitter above 1', { backoff: { type: 'fixed', delay: 10, jitter: 2 } }],
  ['a sizeLimit the payload exceeds', { sizeLimit: 5 }],
  ['bad timeouts', { timeouts: { softMs: 0 } }],
];

test.each(refusedAtAdd)('job options the queue or BullMQ refuse only at add time (%s) are refused with InvalidArgumentError and write no row', async (_, options) => {
  const { schema, definition, relay } = await setup();
  await expect(definition.enqueue({ tenantId: 'acme', postId: 'p6' }, options as never)).rejects.toThrow();
  await expect(
    context.db.transaction((client) => enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'p6' }, { outboxSchema: schema, ...options })),
  ).rejects.toBeInstanceOf(InvalidArgumentError);
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect(await relay.drain()).toBe(0);
});

test('notification job options the notification job would be refused with (sizeLimit below its size, a parent failure pair) are refused and write no row', async () => {
  const { schema, relay } = await setup();
  for (const jobOptions of [{ sizeLimit: 5 }, { failParentOnFailure: true, ignoreDependencyOnFailure: true }]) {
    await expect(
      context.db.transaction((client) =>
        notifyOnceInTransaction(
          client,
          { tenantId: 'acme', type: 'welcome', dedupeKey: 'p7', channel: 'email', payload: { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' } },
          { outboxSchema: schema, jobOptions },
        ),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  }
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect(await relay.drain()).toBe(0);
});

test('a stored notification row whose jobOptions.sizeLimit is below its job\u2019s size is marked failed; it does not fail the batch', async () => {
  const { schema, relay } = await setup();
  const notification = { tenantId: 'acme', type: 'welcome', dedupeKey: 'p8', channel: 'email', payload: { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' } };
  // As written before notifyOnceInTransaction checked the size limit (or by hand).
  await context.db.pool.query(
    `INSERT INTO "${schema}".outbox (id, kind, queue, tenant_id, job_id, payload, options)
     VALUES (gen_random_uuid(), 'notify', 'notification__email', 'acme', 'n-8', $1, '{"jobOptions":{"sizeLimit":5}}')`,
    [JSON.stringify(notification)],
  );
  expect(await relay.drain()).toBe(0);
  expect(await countRows(context.db.pool, schema)).toMatchObject({ total: 1, failed: 1 });
  expect(relay.stats()).toMatchObject({ failed: 1, errors: 0 });
});

test('a notification row whose parent job is not in Redis is marked failed, not marked moved with no job', async () => {
  const { prefix, schema, relay } = await setup();
  await context.db.transaction((client) =>
    notifyOnceInTransaction(
      client,
      { tenantId: 'acme', type: 'welcome', dedupeKey: 'p9', channel: 'email', payload: { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' } },
      { outboxSchema: schema, jobOptions: { parent: { id: 'gone', queue: `${prefix}:agent__writer` } } },
    ),
  );
  // Without the check the row was marked moved with the job id '-5' (BullMQ's refusal code), and no job.
  expect(await relay.drain()).toBe(0);
  expect(await countRows(context.db.pool, schema)).toMatchObject({ total: 1, failed: 1 });
  expect(relay.stats()).toMatchObject({ failed: 1, errors: 0 });
});

test('bad input throws the same typed errors as enqueue and writes no row; the transaction stays usable', async () => {
  const { schema, definition } = await setup({ maxPayloadBytes: 1024 });
  const client = await context.db.pool.connect();
  try {
    await client.query('BEGIN');
    const bad: unknown[] = [{ tenantId: 'acme' }, { tenantId: 'a:b', postId: 'x' }, { postId: 'x' }, { tenantId: 'acme', postId: 'x', words: -1 }];
    for (const payload of bad) {
      const viaOutbox = enqueueInTransaction(client, definition, payload as never, { outboxSchema: schema }).catch((e: unknown) => e);
      const direct = definition.enqueue(payload as never).catch((e: unknown) => e);
      const [a, b] = await Promise.all([viaOutbox, direct]);
      expect(a).toBeInstanceOf(PayloadValidationError);
      expect((a as Error).message).toBe((b as Error).message);
    }
    await expect(
      enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'x'.repeat(2000) }, { outboxSchema: schema }),
    ).rejects.toBeInstanceOf(PayloadTooLargeError);
    const inside = await client.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
    expect(inside.rows[0].n).toBe(0);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect(await definition.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(0);
});

test('a payload or option with the character U+0000 (which PostgreSQL cannot store) is refused with InvalidArgumentError; the transaction stays usable', async () => {
  const { schema, definition } = await setup();
  const client = await context.db.pool.connect();
  try {
    await client.query('BEGIN');
    await expect(enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'a\u0000b' }, { outboxSchema: schema })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'x' }, { outboxSchema: schema, jobName: 'w\u0000' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      notifyOnceInTransaction(
        client,
        { tenantId: 'acme', type: 'welcome', dedupeKey: 'nul', channel: 'email', payload: { to: 'ada@acme.test', subject: 'Hi', text: 'a\u0000b' } },
        { outboxSchema: schema },
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    // A backslash followed by "u0000" is plain text, stored as it is.
    await enqueueInTransaction(client, definition, { tenantId: 'acme', postId: 'a\\u0000b' }, { outboxSchema: schema });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  expect((await countRows(context.db.pool, schema)).total).toBe(1);
});

test('a payload whose stored JSON is over the size limit is refused, even when the schema would strip what makes it large', async () => {
  const { schema, definition, relay } = await setup({ maxPayloadBytes: 1024 });
  // The row keeps the payload as given: unknown keys included, which the relay reads back a batch at a time.
  const payload = { tenantId: 'acme', postId: 'p6', notes: 'x'.repeat(1_000_000) };
  await expect(
    context.db.transaction((client) => enqueueInTransaction(client, definition, payload, { outboxSchema: schema })),
  ).rejects.toBeInstanceOf(PayloadTooLargeError);
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect(await relay.drain()).toBe(0);
});

test('notifyOnceInTransaction: committed notifications go through notifyOnce, so twins give one job', async () => {
  const { prefix, schema, relay } = await setup();
  const input = {
    tenantId: 'acme',
    type: 'post-published',
    dedupeKey: `post-${prefix}`,
    channel: 'email' as const,
    payload: { to: 'ada@acme.test', subject: 'Published', text: 'Your post is live' },
  };
  const first = await context.db.transaction((client) => notifyOnceInTransaction(client, input, { outboxSchema: schema }));
  const second = await context.db.transaction((client) => notifyOnceInTransaction(client, input, { outboxSchema: schema }));
  expect(first.written && second.written).toBe(true);
  // A twin whose first is still being enqueued waits for the next batch.
  expect((await relay.drain()) + (await relay.drain())).toBe(2);
  const channelQueue = notificationQueue('email', { connection: redis, prefix: `${prefix}:bull` });
  definitions.push(channelQueue);
  const queue = channelQueue.queue;
  const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
  expect(jobs).toHaveLength(1);
  expect(jobs[0]!.data).toMatchObject({ tenantId: 'acme', type: 'post-published', payload: { to: 'ada@acme.test' } });
  const marks = await context.db.pool.query(`SELECT moved_job_id FROM "${schema}".outbox`);
  // Both marks hold the job id: a row is marked only once its job is known to be queued.
  expect(marks.rows.map((r) => r.moved_job_id as string)).toEqual([jobs[0]!.id, jobs[0]!.id]);
});

test('a relay with notifications: false leaves notification rows to other relays, even when it moves jobs of the channel queue', async () => {
  const { prefix, schema, relay: notifying } = await setup();
  const email = notificationQueue('email', { connection: redis, prefix: `${prefix}:bull` });
  definitions.push(email);
  const jobsOnly = startOutboxRelay({ pool: context.db.pool, schema, queues: [email], notifications: false, listen: false, pollIntervalMs: 60_000 });
  relays.push(jobsOnly);
  const message = { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' };
  await context.db.transaction(async (client) => {
    await enqueueInTransaction(client, email, { tenantId: 'acme', type: 'direct', dedupeKey: 'd1', payload: message }, { outboxSchema: schema });
    await notifyOnceInTransaction(client, { tenantId: 'acme', type: 'welcome', dedupeKey: 'n1', channel: 'email', payload: message }, { outboxSchema: schema });
  });
  await jobsOnly.drain();
  const kinds = await context.db.pool.query(`SELECT kind, moved_at IS NOT NULL AS moved FROM "${schema}".outbox ORDER BY kind`);
  expect(kinds.rows).toEqual([
    { kind: 'job', moved: true },
    { kind: 'notify', moved: false },
  ]);
  expect(await notifying.drain()).toBe(1);
});

test('a notification row whose relay died between the dedupe claim and the enqueue is not marked moved: it moves once the claim can be taken over', async () => {
  const { prefix, schema, relay } = await setup();
  const input = { tenantId: 'acme', type: 'welcome', dedupeKey: `crash-${prefix}`, channel: 'email' as const, payload: { to: 'ada@acme.test', subject: 'Hi', text: 'Welcome' } };
  await context.db.transaction((client) => notifyOnceInTransaction(client, input, { outboxSchema: schema, pendingTtlMs: 1000 }));
  // The relay that claimed the row first: its notifyOnce holds the dedupe key, its enqueue never
  // happens (the process died there), and its PostgreSQL transaction rolled back.
  const email = notificationQueue('email', { connection: redis, prefix: `${prefix}:bull` });
  definitions.push(email);
  const dying = Object.create(email) as typeof email;
  dying.enqueue = () => new Promise<never>(() => undefined);
  void notifyOnce(input, { connection: redis, keyPrefix: prefix, queue: dying, pendingTtlMs: 1000 });
  await waitFor(async () => (await redis.keys(`${prefix}:notify:*`)).length === 1, 2000);

  await relay.drain();
  expect((await countRows(context.db.pool, schema)).pending).toBe(1);
  await new Promise((r) => setTimeout(r, 1100));
  await relay.drain();
  expect(await countRows(context.db.pool, schema)).toMatchObject({ pending: 0, moved: 1 });
  const jobs = await email.queue.getJobs(['waiting', 'prioritized', 'delayed']);
  expect(jobs.map((j) => j.data.dedupeKey)).toEqual([input.dedupeKey]);
});

test('notifyOnceInTransaction: an invalid notification throws NotificationValidationError and writes nothing', async () => {
  const { schema } = await setup();
  const bad = { tenantId: 'acme', type: 'x', dedupeKey: 'k', channel: 'email', payload: { subject: 'no recipient' } };
  await expect(context.db.transaction((client) => notifyOnceInTransaction(client, bad as never, { outboxSchema: schema }))).rejects.toBeInstanceOf(
    NotificationValidationError,
  );
  await expect(
    context.db.transaction((client) =>
      notifyOnceInTransaction(client, { ...bad, payload: { to: 'a@b.test', subject: 's', text: 'hello' } } as never, { outboxSchema: schema, ttlSeconds: 0 }),
    ),
  ).rejects.toBeInstanceOf(InvalidArgumentError);
  expect((await countRows(context.db.pool, schema)).total).toBe(0);
  expect((await context.db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".send_log`)).rows[0].n).toBe(0);
});
