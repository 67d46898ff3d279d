import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeferJobError, InvalidArgumentError, isDeferral } from '@platform/redis';
import { RateLimitError } from '@platform/ratelimit';
import { uniquePrefix, waitFor } from '@platform/testing';
import type { Worker } from 'bullmq';
import { classifySendError, parseRetryAfter } from './classify';
import { NotificationSendError, ProviderThrottledError } from './errors';
import { createMemorySender } from './memory-sender';
import { notifyOnce, type NotifyOnceOptions } from './notify';
import { resolveNotificationQueue } from './queues';
import type { NotificationInput } from './schemas';
import type { NotificationSender } from './sender';
import { getNotificationStatus, type NotificationStatus } from './status';
import { createTelegramSender } from './providers/telegram';
import { createWebhookSender } from './webhook-sender';
import { createNotificationWorker, notificationBackoffStrategy } from './worker';
import { circuitFailureScript, circuitSuccessScript } from './scripts';
import { FakeHttpServer } from './providers/fake-http';
import { useNotificationTestContext } from './test-support';

const { redis, workerConnection, prefixes, tenants, workers } = useNotificationTestContext(() => provider.stop());

const provider = new FakeHttpServer();

/** Fast retries for tests: 3 attempts, 20 ms doubling to 100 ms. */
const FAST = { attempts: 3, delayMs: 20, maxDelayMs: 100 } as const;

function setup(): { options: NotifyOnceOptions & { keyPrefix: string }; tenant: string } {
  const keyPrefix = uniquePrefix('nw');
  const tenant = uniquePrefix('tenant');
  prefixes.push(keyPrefix);
  tenants.push(tenant);
  return { options: { connection: redis, keyPrefix, retry: FAST }, tenant };
}

function sms(tenantId: string, dedupeKey = 'reminder-1'): NotificationInput {
  return { tenantId, type: 'reminder', dedupeKey, channel: 'sms', payload: { to: '+4915112345678', body: 'Your meeting starts in 10 minutes' } };
}

function startWorker(keyPrefix: string, sender: NotificationSender<'sms'>): Worker {
  const worker = createNotificationWorker('sms', sender, {
    connection: workerConnection,
    keyPrefix,
    handleSignals: false,
  });
  workers.push(worker);
  return worker;
}

async function settled(jobId: string, keyPrefix: string): Promise<NotificationStatus> {
  return waitFor(async () => {
    const status = await getNotificationStatus(jobId, { connection: redis, keyPrefix });
    return status && (status.state === 'delivered' || status.state === 'failed') ? status : undefined;
  }, 15_000);
}

beforeAll(async () => {
  await provider.start();
});


describe('createNotificationWorker + createWebhookSender against a local HTTP server', () => {
  it('429 with Retry-After, then 200: deferred without spending an attempt, sent once, with the same Idempotency-Key', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/retry-after', [
      { status: 429, headers: { 'retry-after': '1' }, body: '{"error":"slow down"}' },
      { status: 200, body: '{"id":"msg-42"}' },
    ]);
    const { jobId } = await notifyOnce(sms(tenant), options);
    expect(await getNotificationStatus(jobId!, options)).toEqual({ state: 'queued', attempts: 0 });
    startWorker(options.keyPrefix, createWebhookSender({ url, headers: { authorization: 'Bearer test' } }));

    // Between the tries the job waits out the Retry-After in the delayed set, no attempt spent.
    await waitFor(() => provider.on('/retry-after').length === 1);
    const job = await waitFor(async () => {
      const queue = resolveNotificationQueue('sms', options).queue;
      return (await queue.getJobState(jobId!)) === 'delayed' ? queue.getJob(jobId!) : undefined;
    });
    expect(job.attemptsMade).toBe(0);
    const deferred = await getNotificationStatus(jobId!, options);
    expect(deferred).toMatchObject({ state: 'deferred', attempts: 0, reason: 'provider-throttled' });
    expect(deferred!.retryAt! - Date.now()).toBeLessThanOrEqual(1000);

    const status = await settled(jobId!, options.keyPrefix);
    // BullMQ counts the successful attempt only.
    expect(status).toMatchObject({ state: 'delivered', attempts: 1, providerMessageId: 'msg-42' });
    const requests = provider.on('/retry-after');
    expect(requests).toHaveLength(2);
    expect(requests[0]!.headers['idempotency-key']).toBe(jobId);
    expect(requests[1]!.headers['idempotency-key']).toBe(jobId);
    // The worker's own backoff is 20 ms here: a gap near 1 s means Retry-After was honoured.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(900);
    expect(requests[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(requests[0]!.body)).toEqual({
      channel: 'sms',
      tenantId: tenant,
      type: 'reminder',
      dedupeKey: 'reminder-1',
      idempotencyKey: jobId,
      message: { to: '+4915112345678', body: 'Your meeting starts in 10 minutes' },
    });
  });

  it('400 fails at once, without a retry, with the provider reason', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/bad-request', [{ status: 400, body: '{"error":"invalid phone number"}' }]);
    const { jobId } = await notifyOnce(sms(tenant), options);
    startWorker(options.keyPrefix, createWebhookSender({ url }));
    const status = await settled(jobId!, options.keyPrefix);
    expect(status.state).toBe('failed');
    expect(status.attempts).toBe(1);
    expect(status.lastError).toMatch(/400.*invalid phone number/);
    const queue = resolveNotificationQueue('sms', options).queue;
    await waitFor(async () => (await queue.getJobState(jobId!)) === 'failed', 5000);
    const job = await queue.getJob(jobId!);
    expect(job?.attemptsMade).toBe(1);
    expect(provider.on('/bad-request')).toHaveLength(1);
  });

  it('500 three times: the job ends in the failed set with the reason, after three attempts with one key', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/down', [{ status: 500, body: 'upstream exploded' }]);
    const { jobId } = await notifyOnce(sms(tenant), options);
    startWorker(options.keyPrefix, createWebhookSender({ url }));
    const status = await settled(jobId!, options.keyPrefix);
    expect(status).toMatchObject({ state: 'failed', attempts: 3 });
    const queue = resolveNotificationQueue('sms', options).queue;
    // The status is written inside the handler; BullMQ moves the job once the handler returned (on a
    // fair queue after the tenant's slot is given back).
    await waitFor(async () => (await queue.getJobState(jobId!)) === 'failed', 5000);
    const failed = await queue.getFailed();
    expect(failed.map((j) => j.id)).toEqual([jobId]);
    expect(failed[0]!.failedReason).toMatch(/500: upstream exploded/);
    // Kept for replay by the queue defaults (7 days).
    expect(failed[0]!.opts.removeOnFail).toEqual({ age: 7 * 86_400 });
    const requests = provider.on('/down');
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([jobId]));
  });

  it('a network error is retried (nothing listens on the port)', async () => {
    const { options, tenant } = setup();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { jobId } = await notifyOnce(sms(tenant), { ...options, retry: { ...FAST, attempts: 2 } });
    startWorker(options.keyPrefix, createWebhookSender({ url: `http://127.0.0.1:${port}/nowhere`, timeoutMs: 2000 }));
    const status = await settled(jobId!, options.keyPrefix);
    expect(status).toMatchObject({ state: 'failed', attempts: 2 });
    expect(status.lastError).toMatch(/fetch failed|ECONNREFUSED/);
  });
});

describe('after the provider accepted the message', () => {
  it('a failed write of the circuit breaker does not fail the job: the message is not sent a second time', async () => {
    const { options, tenant } = setup();
    const memory = createMemorySender<'sms'>();
    // The breaker's "success" write after the send fails once (Redis blipped), for this test's breaker only.
    const original = circuitSuccessScript.run.bind(circuitSuccessScript);
    let failed = false;
    const spy = jest.spyOn(circuitSuccessScript, 'run').mockImplementation(async (client, keys, args) => {
      if (!failed && String(keys[0]).startsWith(`${options.keyPrefix}:`)) {
        failed = true;
        throw new Error('ERR simulated failure of the breaker write');
      }
      return original(client, keys, args);
    });
    try {
      const { jobId } = await notifyOnce(sms(tenant), options);
      startWorker(options.keyPrefix, memory);
      const status = await settled(jobId!, options.keyPrefix);
      expect(failed).toBe(true);
      expect(status).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(memory.messages).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a failed write of the circuit breaker', () => {
  it('after a retryable failure: the job still fails with the provider reason, and its status says so', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/breaker-write', [{ status: 503, body: 'upstream unavailable' }]);
    const original = circuitFailureScript.run.bind(circuitFailureScript);
    const spy = jest.spyOn(circuitFailureScript, 'run').mockImplementation(async (client, keys, args) => {
      if (String(keys[0]).startsWith(`${options.keyPrefix}:`)) throw new Error('ERR simulated failure of the breaker write');
      return original(client, keys, args);
    });
    try {
      const { jobId } = await notifyOnce(sms(tenant), { ...options, retry: { ...FAST, attempts: 1 } });
      startWorker(options.keyPrefix, createWebhookSender({ url }));
      const queue = resolveNotificationQueue('sms', options).queue;
      await waitFor(async () => (await queue.getJobState(jobId!)) === 'failed', 10_000);
      expect((await queue.getJob(jobId!))!.failedReason).toMatch(/503: upstream unavailable/);
      expect(await getNotificationStatus(jobId!, options)).toMatchObject({ state: 'failed', attempts: 1, lastError: expect.stringMatching(/503/) });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('deferrals', () => {
  it('a sender that throws RateLimitError twice, then succeeds: completed after two delays with attemptsMade 1, as in a plain worker', async () => {
    const { options, tenant } = setup();
    const memory = createMemorySender<'sms'>();
    const tries: number[] = [];
    const sender: NotificationSender<'sms'> = {
      async send(message, context) {
        tries.push(Date.now());
        if (tries.length <= 2) {
          throw new RateLimitError({
            tenantId: context.tenantId,
            provider: 'sms-gateway',
            limit: 1,
            windowSeconds: 1,
            key: `ratelimit:${context.tenantId}:sms-gateway`,
            retryAfterMs: 200,
            retryAt: Date.now() + 200,
          });
        }
        return memory.send(message, context);
      },
    };
    // RateLimitError is a deferral by shape (delayJob, retryAfterMs), the only thing the worker checks.
    expect(isDeferral(new RateLimitError({ tenantId: 't', provider: 'p', limit: 1, windowSeconds: 1, key: 'k', retryAfterMs: 1, retryAt: 0 }))).toBe(true);
    // Only one attempt allowed: a deferral that spent one would fail the job.
    const { jobId } = await notifyOnce(sms(tenant), { ...options, retry: { ...FAST, attempts: 1 } });
    startWorker(options.keyPrefix, sender);
    const status = await settled(jobId!, options.keyPrefix);
    expect(status).toMatchObject({ state: 'delivered', attempts: 1 });
    const job = await resolveNotificationQueue('sms', options).queue.getJob(jobId!);
    expect(job!.attemptsMade).toBe(1);
    expect(tries).toHaveLength(3);
    // Each retry came after the deferral's retryAfterMs (200 ms), not the worker's 20 ms backoff.
    expect(tries[1]! - tries[0]!).toBeGreaterThanOrEqual(190);
    expect(tries[2]! - tries[1]!).toBeGreaterThanOrEqual(190);
    expect(memory.messages).toHaveLength(1);
  });

  it('a webhook 429 with Retry-After is a provider-throttled deferral; without the hint it is retryable', async () => {
    const url = provider.script('/throttled', [
      { status: 429, headers: { 'retry-after': '2' }, body: 'slow down' },
      { status: 429, body: 'slow down' },
    ]);
    const context = { idempotencyKey: 'k', tenantId: 't', channel: 'sms' as const, type: 'x', dedupeKey: 'd', jobId: 'j', attempt: 1, signal: undefined };
    const sender = createWebhookSender<'sms'>({ url, headers: { authorization: 'Bearer secret-token' } });
    const first = await sender.send({ to: '+4915112345678', body: 'hi' }, context).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ProviderThrottledError);
    expect(isDeferral(first)).toBe(true);
    expect(first).toMatchObject({ retryAfterMs: 2000, deferralReason: 'provider-throttled', status: 429 });
    const second = await sender.send({ to: '+4915112345678', body: 'hi' }, context).catch((e: unknown) => e);
    expect(isDeferral(second)).toBe(false);
    expect(second).toMatchObject({ retryable: true, status: 429 });
    expect(String((second as Error).message)).not.toContain('secret-token');
  });
});

describe('a provider adapter through the worker', () => {
  it('Telegram 429 with parameters.retry_after, then ok: deferred, delivered with attemptsMade 1', async () => {
    const { options, tenant } = setup();
    const botToken = '42:telegram-worker-token';
    const url = provider.script(`/tg/bot${botToken}/sendMessage`, [
      { status: 429, body: JSON.stringify({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } }) },
      { status: 200, body: JSON.stringify({ ok: true, result: { message_id: 7, chat: { id: 99 } } }) },
    ]);
    const worker = createNotificationWorker('telegram', createTelegramSender({ botToken, baseUrl: url.replace(/\/bot.*$/, '') }), {
      connection: workerConnection,
      keyPrefix: options.keyPrefix,
      handleSignals: false,
    });
    workers.push(worker);
    const { jobId } = await notifyOnce({ tenantId: tenant, type: 'alert', dedupeKey: 'a1', channel: 'telegram', payload: { chatId: 99, text: 'Server is down' } }, { ...options, retry: { ...FAST, attempts: 1 } });
    const status = await waitFor(async () => {
      const s = await getNotificationStatus(jobId!, options);
      return s?.state === 'delivered' || s?.state === 'failed' ? s : undefined;
    });
    expect(status).toEqual({ state: 'delivered', attempts: 1, providerMessageId: '99:7' });
    const requests = provider.on(`/tg/bot${botToken}/sendMessage`);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(900);
  });
});

describe('retries that outlast an outage', () => {
  it('notifyOnce gives the job the default policy: 25 attempts, 5 s doubling, capped at 30 min', async () => {
    const { options, tenant } = setup();
    const { jobId } = await notifyOnce(sms(tenant), { connection: redis, keyPrefix: options.keyPrefix });
    // The definition's getJob: on the (fair by default) channel queue the job may still wait in the fair backlog.
    const job = await resolveNotificationQueue('sms', options).getJob(jobId!);
    expect(job!.opts.attempts).toBe(25);
    expect(job!.opts.backoff).toEqual({ type: 'notification', delay: 5000, maxDelay: 1_800_000, jitter: 0.2 });
  });

  it('a notification past expireAfterMs is recorded as expired, not failed, and is not sent again', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/expiring', [{ status: 503, body: 'down for maintenance' }]);
    const { jobId } = await notifyOnce(sms(tenant), { ...options, retry: { attempts: 100, delayMs: 100, maxDelayMs: 100, expireAfterMs: 600 } });
    startWorker(options.keyPrefix, createWebhookSender({ url }));
    const status = await waitFor(async () => {
      const s = await getNotificationStatus(jobId!, options);
      return s?.state === 'expired' || s?.state === 'failed' || s?.state === 'delivered' ? s : undefined;
    });
    expect(status.state).toBe('expired');
    const queue = resolveNotificationQueue('sms', options).queue;
    expect(await queue.getFailedCount()).toBe(0);
    const job = await queue.getJob(jobId!);
    expect(job!.returnvalue).toMatchObject({ expired: true, providerMessageId: '' });
    const tries = provider.on('/expiring').length;
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThan(10);
  });

  it('a deferral from any sender (DeferJobError) spends no attempt', async () => {
    const { options, tenant } = setup();
    let calls = 0;
    const sender: NotificationSender<'sms'> = {
      async send() {
        calls += 1;
        if (calls <= 3) throw new DeferJobError(50, 'lock-busy');
        return { providerMessageId: 'p-1' };
      },
    };
    const { jobId } = await notifyOnce(sms(tenant), { ...options, retry: { ...FAST, attempts: 1 } });
    startWorker(options.keyPrefix, sender);
    expect(await settled(jobId!, options.keyPrefix)).toEqual({ state: 'delivered', attempts: 1, providerMessageId: 'p-1' });
    expect(calls).toBe(4);
  });
});

describe('delivery status', () => {
  it('is kept for the dedupe window even after the BullMQ job is removed', async () => {
    const { options, tenant } = setup();
    const sender = createMemorySender<'sms'>();
    startWorker(options.keyPrefix, sender);
    const { jobId } = await notifyOnce(sms(tenant), { ...options, ttlSeconds: 3600 });
    expect(await settled(jobId!, options.keyPrefix)).toEqual({ state: 'delivered', attempts: 1, providerMessageId: sender.messages[0]!.providerMessageId });
    // Removed once BullMQ has finished it (the status is written inside the handler, before that).
    await waitFor(async () => (await resolveNotificationQueue('sms', options).queue.getJobState(jobId!)) === 'completed', 5000);
    await resolveNotificationQueue('sms', options).queue.remove(jobId!);
    expect(await resolveNotificationQueue('sms', options).queue.getJob(jobId!)).toBeUndefined();
    expect(await getNotificationStatus(jobId!, options)).toMatchObject({ state: 'delivered', providerMessageId: 'memory-1' });
    const ttl = await redis.pttl(`${options.keyPrefix}:notify-status:${jobId}`);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it("is created by the worker's first touch of the job (notifyOnce writes none), kept for the dedupe window", async () => {
    const { options, tenant } = setup();
    const key = (jobId: string): string => `${options.keyPrefix}:notify-status:${jobId}`;
    const { jobId } = await notifyOnce(sms(tenant), options);
    const other = await notifyOnce(sms(tenant, 'reminder-2'), { ...options, ttlSeconds: 120 });
    // The default window rides in no job option (the worker's default is the same 24 h).
    expect((await resolveNotificationQueue('sms', options).getJob(jobId!))?.opts.backoff).not.toHaveProperty('statusTtl');
    expect((await resolveNotificationQueue('sms', options).getJob(other.jobId!))?.opts.backoff).toMatchObject({ statusTtl: 120_000 });
    expect([await redis.exists(key(jobId!)), await redis.exists(key(other.jobId!))]).toEqual([0, 0]);
    expect(await getNotificationStatus(jobId!, options)).toEqual({ state: 'queued', attempts: 0 });
    startWorker(options.keyPrefix, createMemorySender<'sms'>());
    expect(await settled(jobId!, options.keyPrefix)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(await settled(other.jobId!, options.keyPrefix)).toMatchObject({ state: 'delivered', attempts: 1 });
    const ttl = await redis.pttl(key(jobId!));
    expect(ttl).toBeGreaterThan(86_300_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    const otherTtl = await redis.pttl(key(other.jobId!));
    expect(otherTtl).toBeGreaterThan(100_000);
    expect(otherTtl).toBeLessThanOrEqual(120_000);
  });

  it('a permanent failure is recorded as failed with the reason; a retryable one as retrying, then failed after the last attempt', async () => {
    const { options, tenant } = setup();
    const url = provider.script('/status-500', [{ status: 500, body: 'boom' }]);
    const { jobId } = await notifyOnce(sms(tenant), options);
    startWorker(options.keyPrefix, createWebhookSender({ url }));
    const retrying = await waitFor(async () => {
      const s = await getNotificationStatus(jobId!, options);
      return s?.state === 'retrying' ? s : undefined;
    });
    expect(retrying.lastError).toMatch(/500: boom/);
    const final = await settled(jobId!, options.keyPrefix);
    expect(final).toMatchObject({ state: 'failed', attempts: 3 });
  });
});

describe('createMemorySender', () => {
  it('delivers through the worker and reports sent with the provider id; a bad payload fails at once', async () => {
    const { options, tenant } = setup();
    const sender = createMemorySender<'sms'>();
    startWorker(options.keyPrefix, sender);
    const { jobId } = await notifyOnce(sms(tenant), options);
    expect(await settled(jobId!, options.keyPrefix)).toEqual({ state: 'delivered', attempts: 1, providerMessageId: 'memory-1' });
    expect(sender.messages).toHaveLength(1);
    expect(sender.messages[0]!.message).toEqual({ to: '+4915112345678', body: 'Your meeting starts in 10 minutes' });
    expect(sender.messages[0]!.context).toMatchObject({ idempotencyKey: jobId, tenantId: tenant, channel: 'sms', attempt: 1 });

    // A job that skipped notifyOnce with a payload the channel refuses: failed at once, never sent.
    const bad = await resolveNotificationQueue('sms', options).enqueue(
      { tenantId: tenant, type: 'reminder', dedupeKey: 'raw', payload: { to: 'nope', body: 'x' } },
      { jobId: 'raw-bad-sms' },
    );
    // 'raw-bad-sms' does not name its channel: until a worker has recorded a status, the query needs it.
    const explicit = await waitFor(async () => {
      const status = await getNotificationStatus(bad.id!, { ...options, channel: 'sms' });
      return status?.state === 'failed' ? status : undefined;
    });
    // Once recorded, the status is found by the id alone.
    expect(await getNotificationStatus(bad.id!, options)).toMatchObject({ state: 'failed' });
    // Without a status record, such an id needs its channel.
    await expect(getNotificationStatus('raw-never-seen', options)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(explicit).toMatchObject({ state: 'failed', attempts: 1 });
    expect(explicit!.lastError).toMatch(/payload\.to/);
    expect(sender.messages).toHaveLength(1);
  });
});

describe('status records of jobs whose id does not name their channel', () => {
  it('two channels may hold one job id (their own ids, or BullMQ\'s counters): each keeps its own status, of its own tenant', async () => {
    const { options, tenant } = setup();
    const other = uniquePrefix('tenant');
    tenants.push(other);
    const sender = createMemorySender<'sms'>();
    startWorker(options.keyPrefix, sender);
    const emails = createMemorySender<'email'>();
    workers.push(createNotificationWorker('email', emails, { connection: workerConnection, keyPrefix: options.keyPrefix, handleSignals: false }));
    // The same id on the e-mail queue (tenant `other`, refused payload: fails) and the SMS queue (delivered).
    await resolveNotificationQueue('email', options).enqueue(
      { tenantId: other, type: 'receipt', dedupeKey: 'order-7', payload: { to: 'not-an-address', subject: 'Receipt', text: 'x' } },
      { jobId: 'order-7' },
    );
    await waitFor(async () => (await getNotificationStatus('order-7', { ...options, channel: 'email' }))?.state === 'failed');
    await resolveNotificationQueue('sms', options).enqueue(
      { tenantId: tenant, type: 'receipt', dedupeKey: 'order-7', payload: { to: '+4915112345678', body: 'Thanks' } },
      { jobId: 'order-7' },
    );
    await waitFor(() => sender.messages.length === 1);
    const sms = await waitFor(async () => {
      const status = await getNotificationStatus('order-7', { ...options, channel: 'sms' });
      return status?.state === 'delivered' ? status : undefined;
    });
    expect(sms).toEqual({ state: 'delivered', attempts: 1, providerMessageId: 'memory-1' });
    const email = await getNotificationStatus('order-7', { ...options, channel: 'email' });
    expect(email).toMatchObject({ state: 'failed', attempts: 1 });
    expect(email!.lastError).toMatch(/payload\.to/);
    // By the id alone it is ambiguous: a typed error, not one channel's (and tenant's) record.
    await expect(getNotificationStatus('order-7', options)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(emails.messages).toHaveLength(0);
  });
});

describe('error classification and backoff', () => {
  it('parses Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('reads only the HTTP forms of Retry-After: other text is unreadable, asctime is GMT, a huge delay stays a long one', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    // Not delay-seconds and not an HTTP date, though Date.parse takes them (for dates of 2001).
    for (const value of ['-1', '1,5', 'abc 5', '2026x', '1.5.2']) expect(parseRetryAfter(value, now)).toBeUndefined();
    // RFC 850 and asctime forms are GMT whatever the process's time zone.
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(parseRetryAfter('Thu Jan  1 00:00:07 2026', now)).toBe(7000);
      expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:09 GMT', now)).toBe(9000);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    // Too many digits for a double: the longest wait, never Infinity (a deferral's wait is finite).
    const huge = parseRetryAfter('9'.repeat(400), now);
    expect(Number.isFinite(huge)).toBe(true);
    expect(huge).toBeGreaterThan(10 * 365 * 86_400_000);
    // And a throttle asked for longer than a double holds is a long hold, not an immediate retry.
    expect(new ProviderThrottledError('429', Number.POSITIVE_INFINITY).retryAfterMs).toBeGreaterThan(10 * 365 * 86_400_000);
  });

  it('classifies by status: 429/5xx/network retryable, other 4xx permanent', () => {
    const withStatus = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });
    expect(classifySendError(withStatus(429)).retryable).toBe(true);
    expect(classifySendError(withStatus(503)).retryable).toBe(true);
    expect(classifySendError(withStatus(400)).retryable).toBe(false);
    expect(classifySendError(withStatus(422)).retryable).toBe(false);
    expect(classifySendError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).retryable).toBe(true);
    const own = new NotificationSendError('invalid address', { retryable: false });
    expect(classifySendError(own)).toBe(own);
  });

  it('backs off by the policy the job carries, exponentially with jitter, capped per step, and uses retryAfterMs when the error has one', () => {
    const strategy = notificationBackoffStrategy();
    const job = { opts: { backoff: { type: 'notification', delay: 100, maxDelay: 1000, jitter: 0.5 } } } as never;
    for (let attempt = 1; attempt <= 6; attempt++) {
      const full = Math.min(100 * 2 ** (attempt - 1), 1000);
      const delay = strategy(attempt, 'notification', undefined, job) as number;
      expect(delay).toBeGreaterThanOrEqual(full * 0.5);
      expect(delay).toBeLessThanOrEqual(full);
    }
    const rateLimited = new NotificationSendError('503', { retryable: true, status: 503, retryAfterMs: 7000 });
    expect(strategy(1, 'notification', rateLimited, job)).toBe(7000);
    // Never past the job's expiry.
    const expiring = { opts: { backoff: { type: 'notification', delay: 60_000, maxDelay: 60_000, jitter: 0, expireAt: Date.now() + 1000 } } } as never;
    expect(strategy(1, 'notification', undefined, expiring)).toBeLessThanOrEqual(1000);
  });
});
