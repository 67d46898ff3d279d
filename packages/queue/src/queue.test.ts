import { setTimeout as sleep } from 'node:timers/promises';
import { DeferJobError, InvalidArgumentError } from '@platform/redis';
import { clusterQueuePrefix } from '@platform/redis/internal';
import { keysMatching, uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { PayloadTooLargeError, PayloadValidationError, QueueNameError } from './errors';
import { queueName } from './names';
import { createWorker } from './worker';
import { useQueueTestContext } from './test-support';

const { redis, workerConnection, prefixes } = useQueueTestContext();
const topicSchema = z.object({ topic: z.string() });

function testQueue<S extends z.ZodObject<z.ZodRawShape>>(schema: S, extra: { maxPayloadBytes?: number } = {}) {
  const prefix = uniquePrefix('q');
  prefixes.push(prefix);
  return defineQueue({ namespace: 'agent', name: 'blog-writer', schema, prefix, connection: redis, ...extra });
}


describe('queueName', () => {
  it('joins namespace and name with a double underscore', () => {
    expect(queueName('agent', 'blog-writer')).toBe('agent__blog-writer');
    expect(queueName('rag', 'ingestion')).toBe('rag__ingestion');
  });

  it.each([
    ['agent', 'a:b'],
    ['a:b', 'x'],
    ['', 'x'],
    ['agent', ''],
    ['agent', 'with space'],
    ['agent', 'ümlaut'],
    ['agent', 'a__b'],
  ])('rejects %j / %j with QueueNameError', (namespace, name) => {
    expect(() => queueName(namespace, name)).toThrow(QueueNameError);
  });

  it('never gives two different namespace/name pairs one queue name', () => {
    // 'agent_' + '__' + 'x' and 'agent' + '__' + '_x' would both be 'agent___x'.
    expect(queueName('agent', '_x')).toBe('agent___x');
    expect(() => queueName('agent_', 'x')).toThrow(QueueNameError);
  });
});

describe('defineQueue + createWorker', () => {
  it('processes an enqueued job within a timeout (the platform document case)', async () => {
    const definition = testQueue(topicSchema);
    const seen: Array<{ tenantId: string; topic: string }> = [];
    const worker = createWorker(
      definition,
      async (job, ctx) => {
        seen.push({ tenantId: ctx.tenantId, topic: job.data.topic });
        return 'done';
      },
      { connection: workerConnection, handleSignals: false },
    );
    const job = await definition.enqueue({ tenantId: 'acme', topic: 'redis' });
    await waitFor(async () => (await definition.queue.getJobState(job.id!)) === 'completed', 10_000);
    expect(seen).toEqual([{ tenantId: 'acme', topic: 'redis' }]);
    await worker.close();
    await definition.close();
  });

  it('rejects a payload without tenantId, listing every issue, and enqueues nothing', async () => {
    const definition = testQueue(topicSchema);
    const error = await definition
      .enqueue({ topic: 42 } as unknown as { tenantId: string; topic: string })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadValidationError);
    const issues = (error as PayloadValidationError).issues.map((i) => i.path).sort();
    expect(issues).toEqual(['tenantId', 'topic']);
    expect((error as Error).message).toMatch(/agent__blog-writer/);
    const counts = await definition.queue.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    await definition.close();
  });

  it('rejects a tenant id containing ":"', async () => {
    const definition = testQueue(topicSchema);
    await expect(definition.enqueue({ tenantId: 'a:b', topic: 'x' })).rejects.toBeInstanceOf(PayloadValidationError);
    await definition.close();
  });

  it('rejects an oversized payload before anything is written', async () => {
    const definition = testQueue(topicSchema, { maxPayloadBytes: 1024 });
    await expect(definition.enqueue({ tenantId: 'acme', topic: 'x'.repeat(2000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    const counts = await definition.queue.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    const keys = await keysMatching(redis, `${definition.settings.prefix}:*`);
    expect(keys.filter((k) => !k.endsWith(':meta'))).toEqual([]);
    await definition.close();
  });

  it('rejects a payload JSON would not keep (BigInt, circular, Date, undefined in an array) with PayloadValidationError, writing nothing', async () => {
    const definition = testQueue(z.object({ input: z.record(z.string(), z.unknown()), at: z.date().optional(), tags: z.array(z.string().optional()).optional() }));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const payloads = [
      { tenantId: 'acme', input: { count: 10n } },
      { tenantId: 'acme', input: circular },
      // z.date() accepts a Date, but it would be stored as a string that the worker's z.date() refuses.
      { tenantId: 'acme', input: {}, at: new Date() },
      { tenantId: 'acme', input: {}, tags: ['a', undefined] },
    ];
    for (const payload of payloads) {
      await expect(definition.enqueue(payload)).rejects.toBeInstanceOf(PayloadValidationError);
      await expect(definition.enqueueBulk([{ tenantId: 'acme', input: {} }, payload])).rejects.toThrow(/payload #1: .*not/);
    }
    const keys = await keysMatching(redis, `${definition.settings.prefix}:*`);
    expect(keys.filter((k) => !k.endsWith(':meta'))).toEqual([]);
    await definition.close();
  });

  it.each([
    ['none', '42'],
    ['none', 'a:b'],
    ['none', ''],
    ['per-tenant', '42'],
    ['per-tenant', 'a:b:c:d'],
  ] as const)('fairness %s: a custom jobId BullMQ would refuse (%j) is an InvalidArgumentError and nothing is written', async (fairness, jobId) => {
    const prefix = uniquePrefix('q');
    prefixes.push(prefix);
    const definition = defineQueue({ namespace: 'agent', name: 'ids', schema: topicSchema, prefix, connection: redis, fairness });
    await expect(definition.enqueue({ tenantId: 'acme', topic: 'x' }, { jobId })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(definition.enqueueBulk([{ tenantId: 'acme', topic: 'x' }], { jobId })).rejects.toThrow(/payload #0: .*jobId/);
    const keys = await keysMatching(redis, `${prefix}:*`);
    expect(keys.filter((k) => !k.endsWith(':meta'))).toEqual([]);
    // A string id BullMQ accepts still goes through.
    const job = await definition.enqueue({ tenantId: 'acme', topic: 'x' }, { jobId: 'report-42' });
    expect(job.id).toBe('report-42');
    await definition.close();
  });

  it.each([
    ['delay NaN', { delay: NaN }],
    ['delay Infinity', { delay: Infinity }],
    ['priority NaN', { priority: NaN }],
    ['priority 1.5', { priority: 1.5 }],
    ['priority -3', { priority: -3 }],
    ['priority over 2^21 - 1', { priority: 2 ** 21 }],
    ['attempts NaN', { attempts: NaN }],
    ['attempts 2.5', { attempts: 2.5 }],
    ['jobId 0:a:b', { jobId: '0:a:b' }],
  ] as const)('a bad job option (%s) is an InvalidArgumentError and nothing is written', async (_label, opts) => {
    const definition = testQueue(topicSchema);
    await expect(definition.enqueue({ tenantId: 'acme', topic: 'x' }, opts)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(definition.enqueueBulk([{ tenantId: 'acme', topic: 'x' }], opts)).rejects.toBeInstanceOf(InvalidArgumentError);
    const keys = await keysMatching(redis, `${definition.settings.prefix}:*`);
    expect(keys.filter((k) => !k.endsWith(':meta'))).toEqual([]);
    await definition.close();
  });

  it('refuses bad default job options when the queue is defined', () => {
    expect(() => defineQueue({ namespace: 'agent', name: 'x', schema: topicSchema, connection: redis, defaultJobOptions: { attempts: NaN } })).toThrow(
      InvalidArgumentError,
    );
  });

  it('enqueueBulk refuses per-job options that do not pair up with the payloads, writing nothing', async () => {
    const definition = testQueue(topicSchema);
    const payloads = [
      { tenantId: 'acme', topic: 'a' },
      { tenantId: 'acme', topic: 'b' },
    ];
    // The second job would be added without its jobId: a retry would add it twice.
    await expect(definition.enqueueBulk(payloads, [{ jobId: 'report-a' }])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(definition.enqueueBulk(payloads, [{ jobId: 'report-a' }, { jobId: 'report-b' }, { jobId: 'report-c' }])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect((await definition.queue.getJobCounts()).waiting).toBe(0);
    await definition.close();
  });

  it('enqueueBulk validates every payload first: one bad payload enqueues none', async () => {
    const definition = testQueue(topicSchema);
    await expect(
      definition.enqueueBulk([
        { tenantId: 'acme', topic: 'a' },
        { tenantId: 'acme' } as unknown as { tenantId: string; topic: string },
      ]),
    ).rejects.toThrow(/payload #1/);
    expect((await definition.queue.getJobCounts()).waiting).toBe(0);
    const jobs = await definition.enqueueBulk([
      { tenantId: 'acme', topic: 'a' },
      { tenantId: 'globex', topic: 'b' },
    ]);
    expect(jobs).toHaveLength(2);
    expect((await definition.queue.getJobCounts()).waiting).toBe(2);
    await definition.close();
  });
});

describe('key namespace', () => {
  const saved = process.env.REDIS_KEY_PREFIX;
  // Empty and unset mean the same: no prefix.
  afterEach(() => void Object.assign(process.env, { REDIS_KEY_PREFIX: saved ?? '' }));

  it("puts a queue's BullMQ and fair-scheduler keys under REDIS_KEY_PREFIX (bull when empty); an explicit prefix wins", async () => {
    // On a cluster each queue's prefix carries its own hash tag (docs/cluster.md).
    const tagged = (base: string, queue: string) => (redis.isCluster ? clusterQueuePrefix(base, queue) : base);
    delete process.env.REDIS_KEY_PREFIX;
    expect(defineQueue({ namespace: 'agent', name: 'ns', schema: topicSchema, connection: redis }).settings.prefix).toBe(tagged('bull', 'agent__ns'));
    process.env.REDIS_KEY_PREFIX = '';
    expect(defineQueue({ namespace: 'agent', name: 'ns', schema: topicSchema, connection: redis }).settings.prefix).toBe(tagged('bull', 'agent__ns'));

    const keyPrefix = uniquePrefix('ns');
    prefixes.push(keyPrefix);
    process.env.REDIS_KEY_PREFIX = keyPrefix;
    const plain = defineQueue({ namespace: 'agent', name: 'plain', schema: topicSchema, connection: redis });
    const fair = defineQueue({ namespace: 'agent', name: 'fair', schema: topicSchema, connection: redis, fairness: { window: 1 } });
    await plain.enqueue({ tenantId: 'acme', topic: 'a' });
    await fair.enqueue({ tenantId: 'acme', topic: 'b' });
    await fair.enqueue({ tenantId: 'acme', topic: 'c' });
    const keys = await keysMatching(redis, `${keyPrefix}:*`);
    expect(keys).toContain(`${tagged(`${keyPrefix}:bull`, 'agent__plain')}:agent__plain:meta`);
    expect(keys).toContain(`${tagged(`${keyPrefix}:bull`, 'agent__fair')}:agent__fair:fair:t:acme`);
    expect(await keysMatching(redis, `${tagged('bull', 'agent__fair')}:agent__fair:fair:*`)).toEqual([]);

    const explicit = defineQueue({ namespace: 'agent', name: 'plain', schema: topicSchema, connection: redis, prefix: `${keyPrefix}-own` });
    prefixes.push(`${keyPrefix}-own`);
    expect(explicit.settings.prefix).toBe(tagged(`${keyPrefix}-own`, 'agent__plain'));
    await Promise.all([plain.close(), fair.close(), explicit.close()]);
  });
});

describe('consuming', () => {
  it('returns a stalled job up to 3 times by default (BullMQ: 1); an explicit maxStalledCount wins', async () => {
    const definition = testQueue(topicSchema);
    const options = { connection: workerConnection, handleSignals: false, autorun: false };
    const byDefault = createWorker(definition, async () => undefined, options);
    const explicit = createWorker(definition, async () => undefined, { ...options, maxStalledCount: 0 });
    const unset = createWorker(definition, async () => undefined, { ...options, maxStalledCount: undefined });
    expect([byDefault.opts.maxStalledCount, explicit.opts.maxStalledCount, unset.opts.maxStalledCount]).toEqual([3, 0, 3]);
    await Promise.all([byDefault.close(), explicit.close(), unset.close()]);
    await definition.close();
  });

  it('fails a job whose payload is invalid when consumed at once, with the issues, without retries', async () => {
    const definition = testQueue(topicSchema);
    // Written around the platform (raw BullMQ), as an old producer or a bad migration might.
    await definition.queue.add('blog-writer', { topic: 7 } as never, { attempts: 5 });
    let calls = 0;
    const worker = createWorker(definition, async () => void calls++, { connection: workerConnection, handleSignals: false });
    const failed = await waitFor(async () => (await definition.queue.getFailed())[0]);
    expect(calls).toBe(0);
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/tenantId/);
    expect(failed.failedReason).toMatch(/topic/);
    await worker.close();
    await definition.close();
  });

  /** Runs one job (1 attempt) through `handler` until it is in `state`; returns it and the handler's call count. */
  async function runOne(handler: (call: number) => Promise<unknown>, state: 'completed' | 'failed') {
    const definition = testQueue(topicSchema);
    let calls = 0;
    const worker = createWorker(definition, () => handler(++calls), { connection: workerConnection, handleSignals: false });
    const { id } = await definition.enqueue({ tenantId: 'acme', topic: 't' }, { attempts: 1 });
    await waitFor(async () => (await definition.queue.getJobState(id!)) === state, 10_000);
    const job = await definition.queue.getJob(id!);
    await worker.close();
    await definition.close();
    return { job, calls };
  }

  it('delays a job on a deferral (DeferJobError) without spending an attempt', async () => {
    const { job, calls } = await runOne(async (call) => {
      if (call <= 2) throw new DeferJobError(20, 'provider-throttled');
      return 'done';
    }, 'completed');
    expect(calls).toBe(3);
    expect(job?.attemptsMade).toBe(1);
  });

  it('fails normally on an error merely named RateLimitError (no delayJob): names are not a contract', async () => {
    const { job, calls } = await runOne(async () => {
      throw Object.assign(new Error('limited'), { name: 'RateLimitError', retryAfterMs: 10 });
    }, 'failed');
    expect(calls).toBe(1);
    expect(job?.failedReason).toBe('limited');
  });

  it('applies the platform job defaults: kept 24 h when completed, 7 days when failed, retried with backoff', async () => {
    const definition = testQueue(topicSchema);
    const job = await definition.enqueue({ tenantId: 'acme', topic: 't' });
    expect(job.opts.removeOnComplete).toEqual({ age: 86_400 });
    expect(job.opts.removeOnFail).toEqual({ age: 604_800 });
    expect(job.opts.attempts).toBe(3);
    expect(job.opts.backoff).toMatchObject({ type: 'exponential' });
    const custom = await definition.enqueue({ tenantId: 'acme', topic: 't' }, { attempts: 1, removeOnComplete: true });
    expect(custom.opts.attempts).toBe(1);
    expect(custom.opts.removeOnComplete).toBe(true);
    await definition.close();
  });

  it('closes gracefully on SIGTERM: active jobs finish, then the process exits', async () => {
    const { fork } = await import('node:child_process');
    const { join } = await import('node:path');
    const definition = testQueue(z.object({ n: z.number() }));
    // The fixture defines agent__shutdown under the same prefix.
    const prefix = definition.settings.prefix;
    const fixtureQueue = defineQueue({ namespace: 'agent', name: 'shutdown', schema: z.object({ n: z.number() }), prefix, connection: redis });
    const child = fork(join(__dirname, '../test-fixtures/slow-worker.js'), [prefix, '1500'], {
      env: { ...process.env },
      stdio: 'ignore',
    });
    await new Promise((resolve) => child.once('message', resolve));
    await fixtureQueue.enqueue({ tenantId: 'acme', n: 1 });
    await fixtureQueue.enqueue({ tenantId: 'acme', n: 2 });
    await waitFor(async () => (await redis.llen(`${prefix}:started`)) === 2);
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    child.kill('SIGTERM');
    const how = await exited;
    expect(['SIGTERM', 0]).toContain(how);
    expect((await redis.lrange(`${prefix}:finished`, 0, -1)).sort()).toEqual(['1', '2']);
    expect(await fixtureQueue.queue.getJobCounts('completed', 'active', 'failed')).toEqual({ completed: 2, active: 0, failed: 0 });
    await fixtureQueue.close();
    await definition.close();
  });

  it('on SIGTERM force-closes after shutdownTimeoutMs when a job does not finish: its signal aborts, the process exits, the job is not lost', async () => {
    const { fork } = await import('node:child_process');
    const { join } = await import('node:path');
    const definition = testQueue(z.object({ n: z.number() }));
    const prefix = definition.settings.prefix;
    const fixtureQueue = defineQueue({ namespace: 'agent', name: 'shutdown', schema: z.object({ n: z.number() }), prefix, connection: redis });
    // Every job hangs and ignores its signal; the worker waits 500 ms for them.
    const child = fork(join(__dirname, '../test-fixtures/slow-worker.js'), [prefix, 'hang', '500'], { env: { ...process.env }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    try {
      await new Promise((resolve) => child.once('message', resolve));
      const job = await fixtureQueue.enqueue({ tenantId: 'acme', n: 1 });
      await waitFor(async () => (await redis.llen(`${prefix}:started`)) === 1);
      child.kill('SIGTERM');
      const how = await Promise.race([exited, sleep(10_000).then(() => 'still running after 10 s')]);
      expect(['SIGTERM', 0]).toContain(how);
      expect(await redis.lrange(`${prefix}:aborted`, 0, -1)).toEqual(['1']);
      expect(await redis.llen(`${prefix}:finished`)).toBe(0);
      // Left locked for BullMQ's stalled-job check, neither failed nor completed.
      expect(await fixtureQueue.queue.getJobState(job.id!)).toBe('active');
    } finally {
      child.kill('SIGKILL');
      await fixtureQueue.queue.obliterate({ force: true });
      await fixtureQueue.close();
      await definition.close();
    }
  });

  it('worker.close(true) aborts the signals of the jobs still running', async () => {
    const definition = testQueue(z.object({ n: z.number() }));
    const started: number[] = [];
    const reasons: unknown[] = [];
    const worker = createWorker(
      definition,
      async (job, { signal }) => {
        started.push(job.data.n);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        reasons.push(signal.reason);
      },
      { connection: workerConnection, handleSignals: false, concurrency: 2 },
    );
    await definition.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: 2 }]);
    await waitFor(() => started.length === 2);
    await worker.close(true);
    await waitFor(() => reasons.length === 2);
    expect(reasons).toEqual(['worker force-closed', 'worker force-closed']);
    await definition.close();
  });
});

describe('resources', () => {
  it('creates one BullMQ Queue per definition, with one error listener, however many jobs', async () => {
    const definition = testQueue(topicSchema);
    for (let i = 0; i < 20; i++) await definition.enqueue({ tenantId: 'acme', topic: `t${i}` });
    expect(definition.queue).toBe(definition.queue);
    expect(definition.queue.listenerCount('error')).toBe(1);
    await definition.close();
  });
});

describe('bad input never escapes as a TypeError', () => {
  it.each([{ toString: 0 }, Object.create(null), Symbol('x'), 42, null])('queueName(%p, "") throws QueueNameError', (value) => {
    expect(() => queueName(value as unknown as string, '')).toThrow(QueueNameError);
    expect(() => queueName('agent', value as unknown as string)).toThrow(QueueNameError);
  });
});

describe('a parent that does not exist', () => {
  it.each([['a plain queue', undefined], ['a fair queue', 'per-tenant' as const]])(
    '%s refuses the job with InvalidArgumentError instead of answering a job that is not there',
    async (_label, fairness) => {
      const prefix = uniquePrefix('q');
      prefixes.push(prefix);
      const schema = z.object({ n: z.number() });
      const definition = defineQueue({ namespace: 'agent', name: 'orphan', schema, prefix, connection: redis, ...(fairness ? { fairness } : {}) });
      // The parent's queue key as BullMQ writes it (on a cluster the prefix carries the queue's hash tag).
      const parent = { id: 'no-such-parent', queue: `${definition.queue.opts.prefix}:agent__orphan` };
      await expect(definition.enqueue({ tenantId: 'acme', n: 1 }, { parent })).rejects.toThrow(InvalidArgumentError);
      const counts = await definition.counts();
      expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(0);
      await definition.close();
    },
  );
});
