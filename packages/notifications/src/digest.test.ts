import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { InvalidArgumentError } from '@platform/redis';
import { keysMatching, uniquePrefix, waitFor, testRedisTarget } from '@platform/testing';
import { notifyDigest, type DigestInput } from './digest';
import { NotificationValidationError } from './errors';
import { createMemorySender, type MemorySender } from './memory-sender';
import { getNotificationStatus } from './status';
import { createNotificationWorker } from './worker';
import { useNotificationTestContext } from './test-support';

const { redis, workerConnection, prefixes, workers } = useNotificationTestContext();



const render = (leads: { lead: string }[]) => ({ userId: 'owner', title: `${leads.length} new leads`, body: leads.map((l) => l.lead).join(', ') });

function setup(): { keyPrefix: string; sender: MemorySender<'web'>; item: (n: number, overrides?: Partial<DigestInput<'web', { lead: string }>>) => DigestInput<'web', { lead: string }> } {
  const keyPrefix = uniquePrefix('ndg');
  prefixes.push(keyPrefix);
  const sender = createMemorySender<'web'>();
  workers.push(createNotificationWorker('web', sender, { connection: workerConnection, keyPrefix, handleSignals: false, concurrency: 2, digests: { 'new-leads': render } }));
  return {
    keyPrefix,
    sender,
    item: (n, overrides = {}) => ({
      tenantId: 'acme',
      type: 'new-leads',
      recipientKey: 'owner',
      channel: 'web',
      item: { lead: `lead-${n}` },
      itemKey: `lead-${n}`,
      windowMs: 500,
      maxWaitMs: 5000,
      maxItems: 100,
      render,
      ...overrides,
    }),
  };
}

describe('notifyDigest', () => {
  it('50 items within 2 s become one message listing all 50, oldest first; a repeated item key counts once', async () => {
    const { keyPrefix, sender, item } = setup();
    const options = { connection: redis, keyPrefix };
    let jobId = '';
    for (let n = 1; n <= 50; n++) {
      const result = await notifyDigest(item(n), options);
      expect(result).toMatchObject({ added: true, pending: n });
      jobId = result.jobId;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await notifyDigest(item(7), options)).toMatchObject({ added: false, pending: 50 });
    await waitFor(() => sender.messages.length >= 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(sender.messages).toHaveLength(1);
    expect(sender.messages[0]!.message.title).toBe('50 new leads');
    expect(sender.messages[0]!.message.body).toBe(Array.from({ length: 50 }, (_, i) => `lead-${i + 1}`).join(', '));
    expect(await getNotificationStatus(jobId, options)).toMatchObject({ state: 'delivered', attempts: 1 });
    // The sent batch's items are gone from Redis.
    const left = await redis.hkeys(`${keyPrefix}:notify-digest:acme:new-leads:owner:web`);
    expect(left.filter((f) => f.startsWith('i:') || f.startsWith('t'))).toEqual([]);
  });

  it('a steady stream (never quiet for the window) is flushed every maxWaitMs, losing and repeating nothing', async () => {
    const { keyPrefix, sender, item } = setup();
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 3000) {
      n += 1;
      await notifyDigest(item(n, { windowMs: 400, maxWaitMs: 1000 }), { connection: redis, keyPrefix });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const total = n;
    // Without maxWaitMs the window would never close while the stream runs: one flush at the end.
    const flushedDuringStream = sender.messages.length;
    await waitFor(() => sender.messages.reduce((sum, m) => sum + m.message.body.split(', ').length, 0) === total, 10_000);
    expect(flushedDuringStream).toBeGreaterThanOrEqual(1);
    expect(sender.messages.length).toBeGreaterThanOrEqual(2);
    const all = sender.messages.flatMap((m) => m.message.body.split(', '));
    expect(new Set(all).size).toBe(total);
  });

  it('maxItems flushes at once, before the window closes', async () => {
    const { keyPrefix, sender, item } = setup();
    const started = Date.now();
    for (let n = 1; n <= 10; n++) await notifyDigest(item(n, { windowMs: 60_000, maxWaitMs: 120_000, maxItems: 10 }), { connection: redis, keyPrefix });
    await waitFor(() => sender.messages.length === 1, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sender.messages[0]!.message.title).toBe('10 new leads');
  });

  it('a SIGKILL between items loses none: the items already added are sent with the later ones', async () => {
    const { keyPrefix, sender, item } = setup();
    const child = spawn(process.execPath, [join(__dirname, '..', 'test-fixtures', 'digest-items.js'), testRedisTarget(), keyPrefix, 'acme', '5'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor(() => output.includes('added 5'), 15_000);
    } finally {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    for (let n = 6; n <= 8; n++) await notifyDigest(item(n, { windowMs: 1500, maxWaitMs: 20_000 }), { connection: redis, keyPrefix });
    await waitFor(() => sender.messages.length >= 1, 15_000);
    const leads = sender.messages.flatMap((m) => m.message.body.split(', '));
    expect(leads.sort()).toEqual(['lead-1', 'lead-2', 'lead-3', 'lead-4', 'lead-5', 'lead-6', 'lead-7', 'lead-8']);
  });

  it("each digest is rendered by its own render: one tenant's items never go out through another tenant's", async () => {
    const keyPrefix = uniquePrefix('ndg');
    prefixes.push(keyPrefix);
    // A worker without a `digests` option: each digest queued in this process brings its own render.
    const sender = createMemorySender<'web'>();
    workers.push(createNotificationWorker('web', sender, { connection: workerConnection, keyPrefix, handleSignals: false }));
    // The natural way to write render: the recipient's address taken from the caller's scope.
    const forUser = (userId: string) => (leads: { lead: string }[]) => ({ userId, title: `${leads.length} new leads`, body: leads.map((l) => l.lead).join(', ') });
    const options = { connection: redis, keyPrefix };
    const digest = { type: 'team-report', channel: 'web', windowMs: 300, maxWaitMs: 2000, maxItems: 100 } as const;
    await notifyDigest({ ...digest, tenantId: 'acme', recipientKey: 'ada', item: { lead: 'acme-secret-lead' }, render: forUser('ada') }, options);
    await notifyDigest({ ...digest, tenantId: 'globex', recipientKey: 'bob', item: { lead: 'globex-lead' }, render: forUser('bob') }, options);
    await waitFor(() => sender.messages.length >= 2, 10_000);
    const sent = sender.messages.map((m) => ({ tenantId: m.context.tenantId, userId: m.message.userId, body: m.message.body })).sort((a, b) => (a.tenantId < b.tenantId ? -1 : 1));
    expect(sent).toEqual([
      { tenantId: 'acme', userId: 'ada', body: 'acme-secret-lead' },
      { tenantId: 'globex', userId: 'bob', body: 'globex-lead' },
    ]);
  });

  it('a batch that expired before it was taken does not hold back the items that come after it', async () => {
    const keyPrefix = uniquePrefix('ndg');
    prefixes.push(keyPrefix);
    const options = { connection: redis, keyPrefix, retry: { expireAfterMs: 300 } };
    const digest = { tenantId: 'acme', type: 'new-leads', recipientKey: 'owner', channel: 'web', windowMs: 100, maxWaitMs: 1000, maxItems: 100, render } as const;
    // No worker while the first batch is due (a deploy, an outage): its job has expired when one starts.
    const first = await notifyDigest({ ...digest, item: { lead: 'lead-1' } }, options);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sender = createMemorySender<'web'>();
    workers.push(createNotificationWorker('web', sender, { connection: workerConnection, keyPrefix, handleSignals: false }));
    await waitFor(async () => (await getNotificationStatus(first.jobId, options))?.state === 'expired', 10_000);
    const next = await notifyDigest({ ...digest, item: { lead: 'lead-2' } }, options);
    expect(next.jobId).not.toBe(first.jobId);
    await waitFor(() => sender.messages.length >= 1, 10_000);
    expect(sender.messages.map((m) => m.message.body)).toEqual(['lead-2']);
  });

  it('refuses bad input before writing anything', async () => {
    const { keyPrefix, item } = setup();
    const options = { connection: redis, keyPrefix };
    await expect(notifyDigest(item(1, { tenantId: 'a:b' }), options)).rejects.toBeInstanceOf(NotificationValidationError);
    await expect(notifyDigest(item(1, { type: 'has space' }), options)).rejects.toBeInstanceOf(NotificationValidationError);
    await expect(notifyDigest(item(1, { windowMs: 0 }), options)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(notifyDigest(item(1, { maxWaitMs: 100, windowMs: 500 }), options)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(notifyDigest(item(1, { render: 'nope' as never }), options)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(notifyDigest(item(1, { item: { lead: 'x'.repeat(70_000) } }), options)).rejects.toThrow(/over the limit/);
    // Only the bookkeeping that setup()'s worker writes by itself: its queue's meta and stalled-check,
    // and on the fair channel queue its heartbeat keys and the fair-queue registry. notifyDigest wrote nothing.
    const written = (await keysMatching(redis, `${keyPrefix}:*`)).filter((key) => !/:(meta|stalled-check)$|:fair:(workers|wconc)$|:fair-queues$/.test(key));
    expect(written).toEqual([]);
  });
});
