import {
  closeNotificationQueues,
  createMemorySender,
  createNotificationWorker,
  NotificationSendError,
  type NotificationSender,
  type SendContext,
} from '@platform/notifications';
import { notificationQueue } from '@platform/queue';
import { createRedisConnection, DeferJobError, InvalidArgumentError, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import type { Worker } from 'bullmq';
import type { PoolClient } from 'pg';
import { OutboxDatabaseError } from './errors';
import { notifyOnceInTransaction } from './notify';
import { startOutboxRelay, type OutboxRelay } from './relay';
import { expireSendLog, getSendLogEntry, listSendLog, withSendLog } from './send-log';
import { startTestDatabase, type TestDatabase } from './test-support';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
let db: TestDatabase;
const prefixes: string[] = [];
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await startTestDatabase();
}, 120_000);
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});
afterAll(async () => {
  await closeNotificationQueues();
  for (const prefix of prefixes) await deleteKeysByPrefix(redis, prefix);
  redis.disconnect();
  await db?.stop();
});

const context = (over: Partial<SendContext> = {}): SendContext => ({
  idempotencyKey: `idem-${Math.random()}`,
  tenantId: 'acme',
  channel: 'email',
  type: 'invoice-paid',
  dedupeKey: 'inv-1',
  jobId: `job-${Math.random().toString(36).slice(2)}`,
  attempt: 1,
  signal: undefined,
  ...over,
});
const message = { to: 'ada@acme.test', subject: 'Paid', text: 'Thanks' };

test('a delivered notification is logged with the provider id and never sent again, even by a new job (another dedupe window)', async () => {
  const schema = await db.freshSchema();
  const provider = createMemorySender<'email'>();
  const sender = withSendLog(provider, { pool: db.pool, schema });
  const first = await sender.send(message, context({ jobId: 'job-a' }));
  expect(provider.messages).toHaveLength(1);
  // A second job for the same notification, with a new idempotency key (as after the 24 h window).
  const second = await sender.send(message, context({ jobId: 'job-b' }));
  expect(provider.messages).toHaveLength(1);
  expect(second).toEqual(first);
  expect(await getSendLogEntry(db.pool, { tenantId: 'acme', channel: 'email', type: 'invoice-paid', dedupeKey: 'inv-1' }, { schema })).toMatchObject({
    status: 'delivered',
    providerMessageId: first.providerMessageId,
    jobId: 'job-a',
    attempts: 1,
    lastError: null,
  });
});

test('a failed send is logged as failed with the error and rethrown; a later success turns it into delivered', async () => {
  const schema = await db.freshSchema();
  let calls = 0;
  const flaky: NotificationSender<'email'> = {
    async send() {
      calls += 1;
      if (calls === 1) throw new NotificationSendError('provider answered 503', { retryable: true, status: 503 });
      return { providerMessageId: 'prov-7' };
    },
  };
  const sender = withSendLog(flaky, { pool: db.pool, schema });
  await expect(sender.send(message, context())).rejects.toThrow('provider answered 503');
  const key = { tenantId: 'acme', channel: 'email' as const, type: 'invoice-paid', dedupeKey: 'inv-1' };
  expect(await getSendLogEntry(db.pool, key, { schema })).toMatchObject({ status: 'failed', attempts: 1, lastError: 'provider answered 503' });
  await sender.send(message, context({ attempt: 2 }));
  expect(await getSendLogEntry(db.pool, key, { schema })).toMatchObject({ status: 'delivered', attempts: 2, providerMessageId: 'prov-7', lastError: null });
});

test('a deferred send (rate limit, open circuit) is not a failed attempt: the log keeps it queued and counts no attempt', async () => {
  const schema = await db.freshSchema();
  const deferring: NotificationSender<'email'> = {
    async send() {
      throw new DeferJobError(5000, 'rate-limit', 'provider busy');
    },
  };
  const sender = withSendLog(deferring, { pool: db.pool, schema });
  await expect(sender.send(message, context())).rejects.toBeInstanceOf(DeferJobError);
  const key = { tenantId: 'acme', channel: 'email' as const, type: 'invoice-paid', dedupeKey: 'inv-1' };
  expect(await getSendLogEntry(db.pool, key, { schema })).toMatchObject({ status: 'queued', attempts: 0, lastError: null });
});

test('a COMMIT that fails on the already-delivered path throws OutboxDatabaseError and destroys the connection', async () => {
  const schema = await db.freshSchema();
  await withSendLog(createMemorySender<'email'>(), { pool: db.pool, schema }).send(message, context());
  const released: Array<boolean | Error | undefined> = [];
  const pool = {
    async connect() {
      const client = await db.pool.connect();
      const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
      return Object.assign(Object.create(client) as PoolClient, {
        query: (text: string, values?: unknown[]) => (text === 'COMMIT' ? Promise.reject(new Error('connection terminated')) : query(text, values)),
        release: (destroy?: boolean | Error) => {
          released.push(destroy);
          client.release(true);
        },
      });
    },
  };
  const provider = createMemorySender<'email'>();
  await expect(withSendLog(provider, { pool, schema }).send(message, context())).rejects.toBeInstanceOf(OutboxDatabaseError);
  expect(provider.messages).toHaveLength(0);
  expect(released).toEqual([true]);
});

test('two workers sending the same notification at once call the provider once', async () => {
  const schema = await db.freshSchema();
  const provider = createMemorySender<'email'>();
  const slow: NotificationSender<'email'> = {
    async send(m, c) {
      await new Promise((r) => setTimeout(r, 200));
      return provider.send(m, c);
    },
  };
  const sender = withSendLog(slow, { pool: db.pool, schema });
  const results = await Promise.all([sender.send(message, context()), sender.send(message, context()), sender.send(message, context())]);
  expect(provider.messages).toHaveLength(1);
  expect(new Set(results.map((r) => r.providerMessageId)).size).toBe(1);
});

test('listSendLog reads one tenant, filtered by status and channel; expireSendLog gives up on old queued ones', async () => {
  const schema = await db.freshSchema();
  const sender = withSendLog(createMemorySender<'email'>(), { pool: db.pool, schema });
  await sender.send(message, context({ dedupeKey: 'a' }));
  await sender.send(message, context({ dedupeKey: 'b' }));
  await sender.send(message, context({ tenantId: 'globex', dedupeKey: 'a' }));
  await db.transaction((client) =>
    notifyOnceInTransaction(client, { tenantId: 'acme', type: 'invoice-paid', dedupeKey: 'c', channel: 'email', payload: message }, { outboxSchema: schema }),
  );
  const acme = await listSendLog(db.pool, { schema, tenantId: 'acme' });
  expect(acme.map((e) => `${e.dedupeKey}:${e.status}`).sort()).toEqual(['a:delivered', 'b:delivered', 'c:queued']);
  expect((await listSendLog(db.pool, { schema, tenantId: 'acme', status: 'queued' })).map((e) => e.dedupeKey)).toEqual(['c']);
  expect(await listSendLog(db.pool, { schema, tenantId: 'acme', channel: 'sms' })).toEqual([]);
  expect(await listSendLog(db.pool, { schema, tenantId: 'globex', limit: 1 })).toHaveLength(1);
  await expect(listSendLog(db.pool, { schema, tenantId: '' })).rejects.toBeInstanceOf(InvalidArgumentError);

  expect(await expireSendLog(db.pool, { schema, olderThanMs: 60_000 })).toBe(0);
  expect(await expireSendLog(db.pool, { schema, olderThanMs: 0 })).toBe(1);
  expect((await listSendLog(db.pool, { schema, tenantId: 'acme', status: 'expired' })).map((e) => e.dedupeKey)).toEqual(['c']);
});

test('end to end: outbox → relay → notifyOnce → worker with the send log; after the dedupe window the log still refuses a re-send', async () => {
  const schema = await db.freshSchema();
  const prefix = uniquePrefix('sendlog');
  prefixes.push(prefix);
  const provider = createMemorySender<'email'>();
  const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
  const worker: Worker = createNotificationWorker('email', withSendLog(provider, { pool: db.pool, schema }), { connection: workerConnection, keyPrefix: prefix });
  closers.push(async () => {
    await worker.close();
    workerConnection.disconnect();
  });
  const relay: OutboxRelay = startOutboxRelay({ pool: db.pool, schema, notifications: { connection: redis, keyPrefix: prefix }, pollIntervalMs: 100 });
  closers.push(() => relay.stop());
  const input = {
    tenantId: 'acme',
    type: 'invoice-paid',
    dedupeKey: `inv-${prefix}`,
    channel: 'email' as const,
    payload: message,
  };
  const notifyWithTtl = (ttlSeconds: number) =>
    db.transaction((client) => notifyOnceInTransaction(client, input, { outboxSchema: schema, ttlSeconds }));

  expect(await notifyWithTtl(1)).toMatchObject({ written: true });
  const key = { tenantId: 'acme', channel: 'email' as const, type: 'invoice-paid', dedupeKey: input.dedupeKey };
  await waitFor(async () => (await getSendLogEntry(db.pool, key, { schema }))?.status === 'delivered', 10_000);
  expect(provider.messages).toHaveLength(1);

  // The 1 s Redis dedupe window passes; the send log still knows the notification was delivered.
  await new Promise((r) => setTimeout(r, 1100));
  expect(await notifyWithTtl(1)).toEqual({ written: false, reason: 'already-delivered', providerMessageId: provider.messages[0]!.providerMessageId });
  // A job that reaches the worker anyway (a direct notifyOnce, a replay) is not sent twice either.
  const { notifyOnce } = await import('@platform/notifications');
  const direct = await notifyOnce(input, { connection: redis, keyPrefix: prefix, ttlSeconds: 1 });
  expect(direct.enqueued).toBe(true);
  const job = await worker.waitUntilReady().then(async () => {
    const channelQueue = notificationQueue('email', { connection: redis, prefix: `${prefix}:bull` });
    closers.push(() => channelQueue.close());
    const queue = channelQueue.queue;
    // State first, then the job: a job read while still active and found completed a moment later
    // would carry no return value.
    return waitFor(async () => ((await queue.getJobState(direct.jobId!)) === 'completed' ? await queue.getJob(direct.jobId!) : undefined), 10_000);
  });
  expect(job.returnvalue).toMatchObject({ providerMessageId: provider.messages[0]!.providerMessageId });
  expect(provider.messages).toHaveLength(1);
}, 30_000);

test('the send log readers refuse a missing tenant, notification or options with InvalidArgumentError', async () => {
  const schema = await db.freshSchema();
  const entry = { tenantId: 'acme', channel: 'email' as const, type: 'invoice-paid', dedupeKey: 'a' };
  for (const missing of ['tenantId', 'channel', 'type', 'dedupeKey'] as const) {
    const { [missing]: _dropped, ...rest } = entry;
    await expect(getSendLogEntry(db.pool, rest as never, { schema })).rejects.toBeInstanceOf(InvalidArgumentError);
  }
  await expect(getSendLogEntry(db.pool, undefined as never, { schema })).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(listSendLog(db.pool, undefined as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(expireSendLog(db.pool, undefined as never)).rejects.toBeInstanceOf(InvalidArgumentError);
});

test('withSendLog refuses a sender without send() and options without a pool', () => {
  expect(() => withSendLog({} as never, { pool: db.pool })).toThrow(InvalidArgumentError);
  expect(() => withSendLog(createMemorySender(), { pool: undefined as never })).toThrow(InvalidArgumentError);
});
