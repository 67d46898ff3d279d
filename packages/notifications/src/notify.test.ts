import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InvalidArgumentError, RedisUnavailableError, bullPrefixFor, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { clusterQueuePrefix } from '@platform/redis/internal';
import { PayloadTooLargeError, QueueUnavailableError, fairPendingJobsKey, notificationQueue } from '@platform/queue';
import { keysMatching, luaScriptProblems, standaloneOnly, startRedisServer, uniquePrefix, waitFor, testRedisTarget } from '@platform/testing';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { NotificationValidationError } from './errors';
import { notificationJobId, notifyKey } from './keys';
import { notifyOnce, type NotifyOnceOptions } from './notify';
import { closeNotificationQueues, resolveNotificationQueue } from './queues';
import type { NotificationInput } from './schemas';
import { claimNotificationBatchScript, claimNotificationScript, notificationScripts } from './scripts';
import { statusKey, updateStatus } from './status-store';
import { getNotificationStatus } from './status';
import { useNotificationTestContext } from './test-support';

const { redis, workerConnection, prefixes, tenants } = useNotificationTestContext();

/**
 * Redis commands of one notifyOnce that enqueues, on a plain queue without job statistics (MONITOR,
 * commands inside scripts included): 17 while the claim wrote the `queued` status (HSET, PEXPIRE),
 * 15 since the worker creates it: the claim's EVALSHA, TIME, GET, HGET, SET, then BullMQ's addJob.
 */
const COMMANDS_PER_NOTIFY = 15;


/** A unique key prefix and tenant per test, so tests never see each other's keys or jobs. */
/**
 * The channel queues are fair by default (`'per-tenant'`, the catalog's default); `fairness: 'none'`
 * gives the test a plain FIFO e-mail queue under the same prefix.
 */
function setup(fairness: 'per-tenant' | 'none' = 'per-tenant'): { options: NotifyOnceOptions & { keyPrefix: string }; tenant: string; key: (type?: string, dedupeKey?: string) => string } {
  const keyPrefix = uniquePrefix('nq');
  const tenant = uniquePrefix('tenant');
  prefixes.push(keyPrefix);
  tenants.push(tenant);
  const queue = fairness === 'none' ? { queue: plainEmailQueue(keyPrefix) } : {};
  return {
    options: { connection: redis, keyPrefix, ...queue },
    tenant,
    key: (type = 'activity-completed', dedupeKey = 'activity-1') => notifyKey(keyPrefix, tenant, type, dedupeKey),
  };
}

function email(tenantId: string, dedupeKey = 'activity-1', type = 'activity-completed'): NotificationInput {
  return {
    tenantId,
    type,
    dedupeKey,
    channel: 'email',
    payload: { to: 'ada@example.test', subject: 'Your report is ready', text: 'See the dashboard.' },
  };
}

/** The value of a claim for `jobId` that no caller has seen enqueued yet: `<staleAtMs>.<jobId without "notify-">`. */
function claimOf(jobId: string): RegExp {
  return new RegExp(`^\\d+\\.${jobId.slice('notify-'.length)}$`);
}

/**
 * The value of the dedupe key once notifyOnce resolved with `jobId` enqueued: a claim (as
 * {@link claimOf}) on one Redis; on a cluster `job.<jobId>`, since there the caller marks its claim
 * enqueued after the enqueue (the claim script cannot see the job's slot).
 */
function enqueuedClaimOf(jobId: string): RegExp {
  return redis.isCluster ? new RegExp(`^job\\.${jobId}$`) : claimOf(jobId);
}

/**
 * Waits until the claim in `key` is past its pending time. On a cluster a claim whose caller saw
 * its job enqueued is already marked `job.<jobId>` and never goes stale; it stays a claim only when
 * that caller died between its enqueue and the mark, which this writes (past its pending time) so
 * the takeover checks still run.
 */
async function untilStale(key: string): Promise<void> {
  const value = await redis.get(key);
  if (redis.isCluster && value?.startsWith('job.notify-')) {
    await redis.set(key, `${(await redisNow()) - 1}.${value.slice('job.notify-'.length)}`, 'KEEPTTL');
    return;
  }
  await waitFor(async () => (await redisNow()) >= (await staleAt(key)), 5000);
}

/** Redis server time in ms. */
async function redisNow(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** The time (Redis clock) after which the claim in `key` may be taken over. */
async function staleAt(key: string): Promise<number> {
  const value = await redis.get(key);
  const match = /^(\d+)\./.exec(value ?? '');
  if (!match) throw new Error(`no claim in ${key}: ${value}`);
  return Number(match[1]);
}

const plainQueues: ReturnType<typeof notificationQueue>[] = [];
afterAll(async () => {
  await Promise.all(plainQueues.map((queue) => queue.close()));
});

/** A plain FIFO e-mail queue (`fairness: 'none'`) under the test's prefix. */
function plainEmailQueue(keyPrefix: string): ReturnType<typeof notificationQueue> {
  const queue = notificationQueue('email', { connection: redis, prefix: bullPrefixFor(keyPrefix), fairness: 'none' });
  plainQueues.push(queue);
  return queue;
}

/** Removes a job as BullMQ does after it finished: once the fair scheduler released it into BullMQ. */
async function removeFromBullMQ(definition: ReturnType<typeof resolveNotificationQueue>, jobId: string): Promise<void> {
  await waitFor(async () => (await definition.queue.getJobState(jobId)) !== 'unknown', 5000);
  await definition.queue.remove(jobId);
}

/**
 * Every job of the channel queue, wherever it is: pending in the fair backlog (read first) or in
 * BullMQ. A handed-out job enters BullMQ before the backlog forgets it, so none is missed or
 * counted twice while the scheduler releases jobs.
 */
async function jobCount(options: NotifyOnceOptions, channel: 'email' | 'sms' = 'email'): Promise<number> {
  const definition = resolveNotificationQueue(channel, options);
  const pending = await redis.hkeys(fairPendingJobsKey(definition));
  const inBull = await definition.queue.getJobs(['active', 'completed', 'delayed', 'failed', 'prioritized', 'waiting', 'waiting-children']);
  return new Set([...pending, ...inBull.map((job) => String(job.id))]).size;
}


describe('Lua scripts', () => {
  it('keep the conventions (one file per script named by its keys, headers list every key and argument, SHA as called)', async () => {
    expect(await luaScriptProblems(redis, notificationScripts, join(__dirname, 'lua'))).toEqual([]);
  });

  standaloneOnly(it, 'calls the one-slot scripts directly, with keys of four slots')(
    'the batch claim script answers and writes exactly as the single one, branch by branch, a failing call alone',
    async () => {
      const W = 60_000;
      const P = 30_000;
      // A claim set up as pending stales this far ahead: unlike any the calls write (now + P, a few ms on).
      const PENDING = P + 100_000;
      /**
       * One claim call: what is in Redis before it, and its arguments (bucket: 0 = the current one).
       * `value` gets the case's own job id and another job's id without their "notify-" prefix.
       */
      interface Case {
        name: string;
        value?: (now: number, id: string, other: string) => string;
        status?: string;
        inBull?: boolean;
        inFair?: boolean;
        wrongType?: boolean;
        bucket?: number;
        mode?: 'own' | 'adopt' | 'clear';
        split?: boolean;
        /** Uses the dedupe key of the case before it (a twin in the same batch). */
        sameKeyAsPrevious?: boolean;
        expected: number | 'error';
      }
      const cases: Case[] = [
        { name: 'fresh', expected: 1 },
        { name: 'twin of the fresh claim before it', sameKeyAsPrevious: true, expected: 0 },
        { name: 'fresh, another bucket', bucket: -1, expected: 2 },
        { name: 'fresh, adopt', mode: 'adopt', expected: 2 },
        { name: 'fresh, a worker handled the job', status: 'sent', expected: 0 },
        { name: 'fresh, an old queued status', status: 'queued', expected: 1 },
        { name: 'marked enqueued', value: (_now, _id, other) => `job.notify-${other}`, expected: 0 },
        { name: 'an older format', value: () => 'pending.tok', expected: 0 },
        { name: "another job's claim, pending", value: (now, _id, other) => `${now + PENDING}.${other}`, expected: 0 },
        { name: "another job's claim, stale", value: (now, _id, other) => `${now - 1}.${other}`, expected: 3 },
        { name: "another job's claim, stale, adopt", value: (now, _id, other) => `${now - 1}.${other}`, mode: 'adopt', expected: 2 },
        { name: 'own claim, job in BullMQ', value: (now, id) => `${now - 1}.${id}`, inBull: true, expected: 0 },
        { name: 'own claim, job in the fair backlog', value: (now, id) => `${now - 1}.${id}`, inFair: true, expected: 0 },
        { name: 'own claim, handled by a worker', value: (now, id) => `${now - 1}.${id}`, status: 'failed', expected: 0 },
        { name: 'own claim, pending', value: (now, id) => `${now + PENDING}.${id}`, expected: 0 },
        { name: 'own claim, stale, clear', value: (now, id) => `${now - 1}.${id}`, status: 'queued', mode: 'clear', expected: 2 },
        { name: 'own claim, stale, on a cluster', value: (now, id) => `${now - 1}.${id}`, inBull: true, split: true, expected: 3 },
        { name: 'own claim, stale, adopt', value: (now, id) => `${now - 1}.${id}`, mode: 'adopt', expected: 1 },
        { name: 'own claim, stale, own', value: (now, id) => `${now - 1}.${id}`, expected: 1 },
        { name: 'a dedupe key of another type', wrongType: true, expected: 'error' },
        { name: 'after the failing call', expected: 1 },
      ];
      /** Sets up every case under a fresh prefix, runs them (one by one, or as one batch), reads what they left. */
      const run = async (batched: boolean) => {
        const prefix = uniquePrefix('claimab');
        prefixes.push(prefix);
        const now = await redisNow();
        const bucket = Math.floor(now / W);
        const keys: string[][] = [];
        const args: (string | number)[][] = [];
        // One fair backlog hash for all cases (a batch shares it), so every case has its own job id
        // (a twin's is the case's before it).
        const fairJobsKey = `${prefix}:f`;
        for (const [i, c] of cases.entries()) {
          const n = c.sameKeyAsPrevious ? i - 1 : i;
          const jobId = `notify-email-a${n}`;
          const k = [`${prefix}:d:${n}`, `${prefix}:j:${i}`, `${prefix}:s:${i}`, fairJobsKey];
          if (c.value) await redis.set(k[0]!, c.value(now, jobId.slice(7), `email-b${i}`), 'PX', W);
          if (c.wrongType) await redis.hset(k[0]!, 'f', 'v');
          if (c.status) await redis.hset(k[2]!, 'state', c.status);
          if (c.inBull) await redis.hset(k[1]!, 'name', 'email');
          if (c.inFair) await redis.hset(fairJobsKey, jobId, '{}');
          keys.push(k);
          args.push([W, P, bucket + (c.bucket ?? 0), jobId, c.mode ?? 'own', c.split ? '1' : '0']);
        }
        let replies: unknown[];
        if (batched) {
          // The batcher's layout (shared: key 4, arguments 1, 2, 6), one batch per run of cases
          // with equal shared values (the cluster case stands alone), in case order.
          replies = [];
          for (let from = 0; from < cases.length; ) {
            let to = from + 1;
            while (to < cases.length && args[to]![5] === args[from]![5]) to++;
            const group = cases.slice(from, to).map((_, j) => from + j);
            const params = [fairJobsKey, ...group.flatMap((i) => keys[i]!.slice(0, 3)), 3, 3, 1, 3, W, P, args[from]![5]!, ...group.flatMap((i) => args[i]!.slice(2, 5))];
            const flat = (await claimNotificationBatchScript.runWithKeyCount(redis, 1 + 3 * group.length, params)) as unknown[];
            expect(flat).toHaveLength(4 * group.length);
            replies.push(...group.map((_, j) => (flat[4 * j] === 1 ? flat.slice(4 * j + 1, 4 * j + 4) : 'error')));
            from = to;
          }
        } else {
          replies = [];
          for (const [i] of cases.entries()) replies.push(await claimNotificationScript.run(redis, keys[i]!, args[i]!).catch(() => 'error'));
        }
        const after = [];
        for (const [i, k] of keys.entries()) {
          const reply = replies[i] as [number, string, number] | 'error';
          if (reply !== 'error') expect(Math.abs(reply[2] - now)).toBeLessThan(5_000);
          const type = await redis.type(k[0]!);
          const value = type === 'string' ? await redis.get(k[0]!) : type;
          after.push({
            name: cases[i]!.name,
            reply: reply === 'error' ? reply : [reply[0], reply[1]],
            // Times relative to the setup: a stale or pending claim set up, or one the call wrote.
            value: value?.replace(/^(\d+)\./, (_m, t: string) => (Number(t) === now - 1 ? 'stale.' : Number(t) === now + PENDING ? 'pending.' : Number(t) >= now + P && Number(t) < now + P + 5_000 ? 'claimed.' : `${t}?.`)),
            ttl: (await redis.pttl(k[0]!)) > 0,
            status: await redis.exists(k[2]!),
          });
        }
        return after;
      };
      const single = await run(false);
      const batch = await run(true);
      expect(batch).toEqual(single);
      expect(single.map((c) => (c.reply === 'error' ? 'error' : c.reply[0]))).toEqual(cases.map((c) => c.expected));
    },
  );
});

describe('notifyOnce', () => {
  it('sets notify:{tenantId}:{type}:{dedupeKey} with a TTL between 86 340 and 86 400 s (no key prefix)', async () => {
    const { options, tenant } = setup();
    // No key prefix (the default): the key is exactly notify:{tenantId}:{type}:{dedupeKey}. The job goes to this
    // test's own queue definition, so the shared `bull` queue is not touched.
    const result = await notifyOnce(email(tenant), { connection: redis, keyPrefix: '', queue: resolveNotificationQueue('email', options) });
    expect(result.enqueued).toBe(true);
    const key = `notify:${tenant}:activity-completed:activity-1`;
    expect(notifyKey('', tenant, 'activity-completed', 'activity-1')).toBe(key);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThanOrEqual(86_340);
    expect(ttl).toBeLessThanOrEqual(86_400);
    // The key names the job (a claim until a caller has seen the job), and the job carries the
    // validated notification.
    expect(await redis.get(key)).toMatch(enqueuedClaimOf(result.jobId!));
    const job = await resolveNotificationQueue('email', options).getJob(result.jobId!);
    expect(job?.data).toEqual({
      tenantId: tenant,
      type: 'activity-completed',
      dedupeKey: 'activity-1',
      payload: { to: 'ada@example.test', subject: 'Your report is ready', text: 'See the dashboard.' },
    });
  });

  it('honours a configured ttlSeconds', async () => {
    const { options, tenant, key } = setup();
    await notifyOnce(email(tenant), { ...options, ttlSeconds: 3600 });
    const ttl = await redis.ttl(key());
    expect(ttl).toBeGreaterThan(3540);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it.each(['per-tenant', 'none'] as const)('200 concurrent calls with one key enqueue exactly one job (fairness %s)', async (fairness) => {
    const { options, tenant } = setup(fairness);
    const results = await Promise.all(Array.from({ length: 200 }, () => notifyOnce(email(tenant), options)));
    const winners = results.filter((r) => r.enqueued);
    expect(winners).toHaveLength(1);
    expect(await jobCount(options)).toBe(1);
    // A later duplicate learns the first one's job id.
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: winners[0]!.jobId });
  });

  it('on an auto-pipelined producer connection: 200 concurrent calls with one key enqueue one job, 200 keys 200 jobs', async () => {
    const { options, tenant } = setup();
    const piped = createRedisConnection(loadRedisConfig(), { role: 'producer', redisOptions: { enableAutoPipelining: true } });
    try {
      const opts = { ...options, connection: piped };
      const same = await Promise.all(Array.from({ length: 200 }, () => notifyOnce(email(tenant), opts)));
      expect(same.filter((r) => r.enqueued)).toHaveLength(1);
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => notifyOnce(email(tenant, `many-${i}`), opts)));
      expect(many.every((r) => r.enqueued)).toBe(true);
      expect(await jobCount(opts)).toBe(201);
    } finally {
      await closeNotificationQueues();
      piped.disconnect();
    }
  });

  it.each(['per-tenant', 'none'] as const)('200 concurrent calls with 200 keys enqueue 200 jobs (fairness %s)', async (fairness) => {
    const { options, tenant } = setup(fairness);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => notifyOnce(email(tenant, `activity-${i}`), options)));
    expect(results.every((r) => r.enqueued)).toBe(true);
    expect(new Set(results.map((r) => r.jobId)).size).toBe(200);
    expect(await jobCount(options)).toBe(200);
  });

  it('the claims of one event-loop turn go to Redis as one script call (batched; one each on a Cluster), each still exactly once', async () => {
    const { options, tenant } = setup();
    await notifyOnce(email(tenant, 'warm'), options); // loads the scripts: no NOSCRIPT retry counted
    await notifyOnce(email(tenant, 'warm-2'), options);
    const spy = jest.spyOn(redis, 'evalsha');
    try {
      // 60 new keys and, in the same turn, 20 callers of one key.
      const calls = [...Array.from({ length: 60 }, (_, i) => email(tenant, `turn-${i}`)), ...Array.from({ length: 20 }, () => email(tenant, 'shared'))];
      const results = await Promise.all(calls.map((input) => notifyOnce(input, options)));
      const claimCalls = spy.mock.calls.filter(([sha]) => sha === claimNotificationScript.sha || sha === claimNotificationBatchScript.sha);
      if (redis.isCluster) {
        // Batching is off on a Cluster by design (a batch's keys would span slots): one claim each.
        expect(claimCalls).toHaveLength(calls.length);
        expect(claimCalls.every(([sha]) => sha === claimNotificationScript.sha)).toBe(true);
      } else {
        expect(claimCalls).toHaveLength(1);
        expect(claimCalls[0]![0]).toBe(claimNotificationBatchScript.sha);
      }
      expect(results.slice(0, 60).every((r) => r.enqueued)).toBe(true);
      expect(results.slice(60).filter((r) => r.enqueued)).toHaveLength(1);
      expect(await jobCount(options)).toBe(2 + 60 + 1);
    } finally {
      spy.mockRestore();
    }
  });

  it('the same dedupe key for different tenants or types gives separate notifications', async () => {
    const { options, tenant } = setup();
    const other = uniquePrefix('tenant');
    tenants.push(other);
    const results = [
      await notifyOnce(email(tenant, 'k', 'welcome'), options),
      await notifyOnce(email(other, 'k', 'welcome'), options),
      await notifyOnce(email(tenant, 'k', 'invoice-paid'), options),
      await notifyOnce(email(tenant, 'k', 'welcome'), options),
    ];
    expect(results.map((r) => r.enqueued)).toEqual([true, true, true, false]);
    expect(await jobCount(options)).toBe(3);
  });

  it('refuses a tenant id with ":" before writing anything, so it cannot collide with another tenant', async () => {
    const { options, tenant } = setup();
    // Without validation, tenant "<t>:welcome" + type "k" + key "x" would be the key of tenant <t>, type "welcome:k".
    const error = await notifyOnce(email(`${tenant}:welcome`, 'x', 'k'), options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotificationValidationError);
    expect((error as NotificationValidationError).code).toBe('NOTIFICATION_INVALID');
    expect((error as NotificationValidationError).issues.map((i) => i.path)).toEqual(['tenantId']);
    expect(await keysMatching(redis, `${options.keyPrefix}:notify:${tenant}*`)).toEqual([]);
    expect(await jobCount(options)).toBe(0);
    // ":" in type or dedupe key is escaped, so these two are different notifications.
    const a = await notifyOnce(email(tenant, 'k:x', 'welcome'), options);
    const b = await notifyOnce(email(tenant, 'x', 'welcome:k'), options);
    expect([a.enqueued, b.enqueued]).toEqual([true, true]);
    expect(a.jobId).not.toBe(b.jobId);
  });

  it('rejects invalid payloads per channel, listing every issue, and writes nothing', async () => {
    const { options, tenant } = setup();
    const cases: Array<[unknown, string[]]> = [
      [{ ...email(tenant), payload: { to: 'not-an-address', subject: '' } }, ['payload.to', 'payload.subject', 'payload.text']],
      [{ tenantId: tenant, type: 't', dedupeKey: 'd', channel: 'sms', payload: { to: '0151 1234', body: 'hi' } }, ['payload.to']],
      [{ tenantId: tenant, type: 't', dedupeKey: 'whatsapp', channel: 'whatsapp', payload: { to: '+4915112345678' } }, ['payload.body']],
      [{ tenantId: tenant, type: 't', dedupeKey: 'telegram', channel: 'telegram', payload: { chatId: 'nope nope', text: 'x' } }, ['payload.chatId']],
      [{ tenantId: tenant, type: 't', dedupeKey: 'web', channel: 'web', payload: { userId: 'u1', title: 'T', body: 'B', url: 'not a url' } }, ['payload.url']],
      [{ tenantId: '', type: '', dedupeKey: '', channel: 'pigeon', payload: {} }, ['tenantId', 'type', 'dedupeKey', 'channel']],
    ];
    for (const [input, paths] of cases) {
      const error = await notifyOnce(input as NotificationInput, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotificationValidationError);
      expect((error as NotificationValidationError).issues.map((i) => i.path).sort()).toEqual([...paths].sort());
    }
    expect(await keysMatching(redis, `${options.keyPrefix}:notify:${tenant}*`)).toEqual([]);
    expect(await jobCount(options)).toBe(0);
    expect(await jobCount(options, 'sms')).toBe(0);
  });

  it('accepts one valid payload of every channel', async () => {
    const { options, tenant } = setup();
    const inputs: NotificationInput[] = [
      { tenantId: tenant, type: 't', dedupeKey: 'email', channel: 'email', payload: { to: ['a@example.test', 'b@example.test'], subject: 'S', html: '<p>x</p>', from: 'Acme <noreply@example.test>' } },
      { tenantId: tenant, type: 't', dedupeKey: 'sms', channel: 'sms', payload: { to: '+4915112345678', body: 'hi' } },
      { tenantId: tenant, type: 't', dedupeKey: 'whatsapp', channel: 'whatsapp', payload: { to: '+4915112345678', template: { name: 'report_ready' } } },
      { tenantId: tenant, type: 't', dedupeKey: 'telegram', channel: 'telegram', payload: { chatId: -100123, text: 'x' } },
      { tenantId: tenant, type: 't', dedupeKey: 'web', channel: 'web', payload: { userId: 'u1', title: 'T', body: 'B', url: 'https://example.test/r/1' } },
    ];
    for (const input of inputs) expect((await notifyOnce(input, options)).enqueued).toBe(true);
  });

  it('validates once: the channel queue adds the job without a zod pass of its own; a wrapper of the queue validates as usual', async () => {
    const { options, tenant } = setup('none');
    const definition = resolveNotificationQueue('email', options);
    const parse = jest.spyOn(definition.payloadSchema, 'safeParse');
    try {
      const result = await notifyOnce(email(tenant, 'once'), options);
      expect(result.enqueued).toBe(true);
      expect(parse).not.toHaveBeenCalled();
      expect((await definition.getJob(result.jobId!))?.data).toEqual({ tenantId: tenant, type: 'activity-completed', dedupeKey: 'once', payload: email(tenant).payload });
      // A wrapper (as a test or a service may pass as `queue`): its own enqueue, which validates.
      const wrapper = { ...definition, enqueue: definition.enqueue } as typeof definition;
      expect((await notifyOnce(email(tenant, 'wrapped'), { ...options, queue: wrapper })).enqueued).toBe(true);
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses a notification over the queue\'s size limit with PayloadTooLargeError and writes nothing, not even a claim', async () => {
    const { options, tenant } = setup('none');
    const small = notificationQueue('email', { connection: redis, prefix: bullPrefixFor(options.keyPrefix), fairness: 'none', maxPayloadBytes: 1024 });
    plainQueues.push(small);
    const opts = { ...options, queue: small };
    const big = { ...email(tenant, 'big'), payload: { to: 'ada@example.test', subject: 'S', text: 'x'.repeat(1024) } } as NotificationInput;
    await expect(notifyOnce(big, opts)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await keysMatching(redis, `${options.keyPrefix}:notify:${tenant}*`)).toEqual([]);
    expect(await jobCount(opts)).toBe(0);
    // Just under the limit (the bound is exact there): enqueued.
    const fits = { ...email(tenant, 'fits'), payload: { to: 'ada@example.test', subject: 'S', text: 'x'.repeat(850) } } as NotificationInput;
    expect((await notifyOnce(fits, opts)).enqueued).toBe(true);
  });

  it('rejects bad options with InvalidArgumentError before writing anything', async () => {
    const { options, tenant } = setup();
    await expect(notifyOnce(email(tenant), { ...options, ttlSeconds: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(notifyOnce(email(tenant), { ...options, pendingTtlMs: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await keysMatching(redis, `${options.keyPrefix}:notify:${tenant}*`)).toEqual([]);
  });

  it.each(['per-tenant', 'none'] as const)('when the enqueue fails after the key was claimed, the key is removed and a retry succeeds (fairness %s)', async (fairness) => {
    const { options, tenant, key } = setup(fairness);
    // A queue whose producer connection is gone: the claim (on `redis`) succeeds, the enqueue cannot.
    const dead = createRedisConnection(loadRedisConfig(), { role: 'producer' });
    await dead.ping();
    dead.disconnect();
    const broken = notificationQueue('email', { connection: dead, prefix: bullPrefixFor(options.keyPrefix), enqueueTimeoutMs: 1000, onError: () => undefined, fairness });
    const error = await notifyOnce(email(tenant), { ...options, queue: broken }).catch((e: unknown) => e);
    // "Redis is down" in the one shape; the queue's own error is kept (as it is, or as the cause).
    expect(error).toBeInstanceOf(RedisUnavailableError);
    const queueError = error instanceof QueueUnavailableError ? error : (error as Error).cause;
    expect(queueError).toBeInstanceOf(QueueUnavailableError);
    expect(await redis.exists(key())).toBe(0);
    expect(await jobCount(options)).toBe(0);
    await broken.close().catch(() => undefined);

    const retry = await notifyOnce(email(tenant), options);
    expect(retry.enqueued).toBe(true);
    expect(await jobCount(options)).toBe(1);
  });

  it('the key is claimed for the window, naming its job, while the enqueue runs, and released when it throws', async () => {
    const { options, tenant, key: keyOf } = setup();
    const key = keyOf();
    const real = resolveNotificationQueue('email', options);
    let during: { value: string | null; pttl: number; status: Record<string, string> } | undefined;
    let jobId: string | undefined;
    const failing = {
      ...real,
      settings: real.settings,
      parse: real.parse,
      queue: real.queue,
      enqueue: async (_data: unknown, opts: { jobId: string }) => {
        jobId = opts.jobId;
        during = { value: await redis.get(key), pttl: await redis.pttl(key), status: await redis.hgetall(`${options.keyPrefix}:notify-status:${jobId}`) };
        throw new Error('enqueue exploded');
      },
    } as unknown as typeof real;
    await expect(notifyOnce(email(tenant), { ...options, queue: failing })).rejects.toThrow('enqueue exploded');
    expect(during?.value).toMatch(claimOf(jobId!));
    expect(during?.pttl).toBeGreaterThan(86_000_000);
    // No status record: the worker creates it when it first takes the job.
    expect(during?.status).toEqual({});
    // Released: the key is gone, and no status of the job that never made it was left behind.
    expect([await redis.exists(key), await redis.exists(`${options.keyPrefix}:notify-status:${jobId}`)]).toEqual([0, 0]);
    expect((await notifyOnce(email(tenant), options)).enqueued).toBe(true);
  });

  it.each(['per-tenant', 'none'] as const)(
    'an enqueue that throws after its job reached the queue keeps the claim: a retry is a twin, not a second job (fairness %s)',
    async (fairness) => {
      const { options, tenant, key } = setup(fairness);
      const real = resolveNotificationQueue('email', options);
      // On the fair queue the job waits in the fair backlog behind one released job (window 1, no
      // worker), where the release must see it too.
      if (fairness === 'per-tenant') await notifyOnce(email(tenant, 'released-first'), options);
      let jobId: string | undefined;
      const lostReply = {
        ...real,
        settings: real.settings,
        parse: real.parse,
        queue: real.queue,
        enqueue: async (data: never, opts: { jobId: string }) => {
          jobId = opts.jobId;
          await real.enqueue(data, opts as never);
          throw new Error('reply lost');
        },
      } as unknown as typeof real;
      await expect(notifyOnce(email(tenant), { ...options, queue: lostReply })).rejects.toThrow('reply lost');
      expect(await (await real.getJob(jobId!))?.getState()).toBe(fairness === 'per-tenant' ? 'pending' : 'waiting');
      expect(await redis.get(key())).toBe(`job.${jobId}`);
      expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId });
      expect(await jobCount(options)).toBe(fairness === 'per-tenant' ? 2 : 1);
    },
  );

  it('a process that died between claim and enqueue blocks the notification for its pending time, not before and not longer', async () => {
    const { options, tenant, key: keyOf } = setup();
    const key = keyOf();
    const real = resolveNotificationQueue('email', options);
    // The claimer "dies" in its enqueue: the job is never added, the claim is never released.
    const hanging = { ...real, settings: real.settings, parse: real.parse, queue: real.queue, enqueue: () => new Promise(() => undefined) } as unknown as typeof real;
    void notifyOnce(email(tenant), { ...options, queue: hanging, pendingTtlMs: 2000 });
    await waitFor(async () => (await redis.exists(key)) === 1, 5000);
    const takeoverAt = await staleAt(key);
    // Before the pending time: a twin, the claim untouched (without the pending time this would be a takeover).
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false });
    expect(await redisNow()).toBeLessThan(takeoverAt);
    expect(await staleAt(key)).toBe(takeoverAt);
    // After it: taken over under the claim's job id, within the same window (TTL kept).
    const ttlBefore = await redis.pttl(key);
    await waitFor(async () => (await redisNow()) >= takeoverAt, 10_000);
    const result = await notifyOnce(email(tenant), options);
    expect(result.enqueued).toBe(true);
    expect(await redis.get(key)).toMatch(enqueuedClaimOf(result.jobId!));
    expect(await redis.pttl(key)).toBeLessThanOrEqual(ttlBefore);
    expect(await jobCount(options)).toBe(1);
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: result.jobId });
  });

  it('a process killed between claim and enqueue (SIGKILL) blocks the notification only for its pending time', async () => {
    const { options, tenant, key: keyOf } = setup();
    const fixture = join(__dirname, '..', 'test-fixtures', 'claim-and-hang.js');
    const child = spawn(process.execPath, [fixture, testRedisTarget(), tenant, '1500', options.keyPrefix], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor(() => output.includes('claimed'), 15_000);
    } finally {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    const key = keyOf();
    const takeoverAt = await staleAt(key);
    const twin = await notifyOnce(email(tenant), options);
    if ((await redisNow()) < takeoverAt) expect(twin).toEqual({ enqueued: false });
    await waitFor(async () => (await redisNow()) >= takeoverAt, 10_000);
    expect((await notifyOnce(email(tenant), options)).enqueued).toBe(true);
    expect(await jobCount(options)).toBe(1);
  });

  it('a claim past its pending time whose job is in the queue is not taken over; the twin learns the job id', async () => {
    const { options, tenant, key } = setup();
    const first = await notifyOnce(email(tenant), { ...options, pendingTtlMs: 1 });
    await untilStale(key());
    // As after a crash between the enqueue and a worker's first touch: the job is queued, no status
    // record exists yet (the claim writes none), and that changes nothing for the twin.
    expect(await redis.exists(statusKey(options.keyPrefix, first.jobId!))).toBe(0);
    // Without the job check this would be a takeover (enqueued: true, BullMQ refusing the twin job).
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: first.jobId });
    // On one Redis the script marks the claim enqueued; on a cluster the twin found the job itself
    // (another slot) and leaves the claim as it is.
    if (!redis.isCluster) expect(await redis.get(key())).toBe(`job.${first.jobId}`);
    expect(await jobCount(options)).toBe(1);
  });

  it('a job a worker handled and BullMQ then removed still blocks its twins for the window', async () => {
    const { options, tenant, key } = setup();
    const first = await notifyOnce(email(tenant), { ...options, pendingTtlMs: 1 });
    // What a worker leaves when the job is removed on completion: a status other than "queued".
    await updateStatus(redis, `${options.keyPrefix}:notify-status:${first.jobId}`, { state: 'delivered', attempts: 1 });
    await removeFromBullMQ(resolveNotificationQueue('email', options), first.jobId!);
    await untilStale(key());
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: first.jobId });
    expect(await jobCount(options)).toBe(0);
  });

  it("a stale claim of the previous window's job is taken over under that job id", async () => {
    const { options, tenant, key } = setup();
    const now = await redisNow();
    const previous = notificationJobId('email', key(), 86_400_000, now - 86_400_000);
    await redis.set(key(), `${now - 1}.${previous.slice('notify-'.length)}`, 'PX', 60_000);
    const result = await notifyOnce(email(tenant), options);
    expect(result).toEqual({ enqueued: true, jobId: previous });
    expect(await redis.pttl(key())).toBeLessThanOrEqual(60_000);
  });

  it("a stale claim of another channel's job: a twin while that job is queued, taken over for this channel once it is not", async () => {
    const { options, tenant, key } = setup();
    const now = await redisNow();
    const smsJobId = notificationJobId('sms', key(), 86_400_000, now);
    await redis.set(key(), `${now - 1}.${smsJobId.slice('notify-'.length)}`, 'PX', 60_000);
    const sms = resolveNotificationQueue('sms', options);
    await sms.enqueue({ tenantId: tenant, type: 'activity-completed', dedupeKey: 'activity-1', payload: { to: '+4915112345678', body: 'x' } }, { jobId: smsJobId });
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: smsJobId });
    await removeFromBullMQ(sms, smsJobId);
    const result = await notifyOnce(email(tenant), options);
    expect(result.enqueued).toBe(true);
    expect(result.jobId).toBe(notificationJobId('email', key(), 86_400_000, await redisNow()));
    // A claim of its own: the whole window from now.
    expect(await redis.pttl(key())).toBeGreaterThan(86_000_000);
  });

  it("derives the job id from Redis time, not from a wrong local clock", async () => {
    const { options, tenant, key } = setup();
    const spy = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 3 * 86_400_000);
    let result: Awaited<ReturnType<typeof notifyOnce>>;
    try {
      result = await notifyOnce(email(tenant), options);
    } finally {
      spy.mockRestore();
    }
    expect(result.enqueued).toBe(true);
    expect(result.jobId).toBe(notificationJobId('email', key(), 86_400_000, await redisNow()));
  });

  it('on a fair queue, a stale claim whose job waits in the fair backlog is not taken over', async () => {
    const { options, tenant, key } = setup();
    // Window 1: one job released into BullMQ at a time, so with no worker the second job stays pending.
    const fair = notificationQueue('email', { connection: redis, prefix: `${bullPrefixFor(options.keyPrefix)}-fair`, fairness: { window: 1 } });
    try {
      expect((await notifyOnce(email(tenant, 'released-first'), { ...options, queue: fair })).enqueued).toBe(true);
      const first = await notifyOnce(email(tenant), { ...options, queue: fair, pendingTtlMs: 1 });
      // Still in the backlog (no worker takes jobs from it): BullMQ has no hash for it yet.
      expect(await (await fair.getJob(first.jobId!))?.getState()).toBe('pending');
      await untilStale(key());
      expect(await notifyOnce(email(tenant), { ...options, queue: fair })).toEqual({ enqueued: false, jobId: first.jobId });
      const counts = await fair.counts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(2);
    } finally {
      await fair.obliterate({ force: true }).catch(() => undefined);
      await fair.close();
    }
  });

  standaloneOnly(it, 'drives the one-slot claim script directly, with keys of four slots')('on a fair queue, a job entering the fair backlog between the stale-claim check and the adopt call is seen by the adopt call: no takeover', async () => {
    const { options, tenant, key } = setup();
    // Window 1: one job released into BullMQ at a time, so with no worker later jobs stay pending.
    const fair = notificationQueue('email', { connection: redis, prefix: bullPrefixFor(options.keyPrefix), fairness: { window: 1 } });
    plainQueues.push(fair);
    const opts = { ...options, queue: fair };
    expect((await notifyOnce(email(tenant, 'released-first'), opts)).enqueued).toBe(true);
    // A stale claim of the previous window's job: the "own" call answers 3 (check that job), then "adopt".
    const windowMs = 86_400_000;
    const now = await redisNow();
    const bucket = Math.floor(now / windowMs);
    const previous = notificationJobId('email', key(), windowMs, now - windowMs);
    const own = notificationJobId('email', key(), windowMs, now);
    await redis.set(key(), `${now - 1}.${previous.slice('notify-'.length)}`, 'PX', 60_000);
    const keysOf = (jobId: string): string[] => [key(), fair.queue.toKey(jobId), statusKey(options.keyPrefix, jobId), fairPendingJobsKey(fair)];
    expect(await claimNotificationScript.run(redis, keysOf(own), [windowMs, 30_000, bucket, own, 'own', '0'])).toEqual([3, previous, expect.any(Number)]);
    // Right then the first claimer's late enqueue lands, in the fair backlog (not in BullMQ).
    await fair.enqueue({ tenantId: tenant, type: 'activity-completed', dedupeKey: 'activity-1', payload: { to: 'ada@example.test', subject: 's', text: 't' } }, { jobId: previous });
    expect(await (await fair.getJob(previous))?.getState()).toBe('pending');
    // The adopt call sees it in the same call: a twin, and the key learns the job id.
    expect(await claimNotificationScript.run(redis, keysOf(previous), [windowMs, 30_000, bucket, previous, 'adopt', '0'])).toEqual([0, previous, expect.any(Number)]);
    expect(await redis.get(key())).toBe(`job.${previous}`);
    expect(await notifyOnce(email(tenant), opts)).toEqual({ enqueued: false, jobId: previous });
    expect(await jobCount(opts)).toBe(2);
  });

  it.each(['per-tenant', 'none'] as const)(
    'after a claimer died between claim and enqueue, 50 concurrent callers past its pending time enqueue exactly one job, and its late add is no twin (fairness %s)',
    async (fairness) => {
      const { options, tenant, key } = setup(fairness);
      const real = resolveNotificationQueue('email', options);
      // Fair: one job holds the window (no worker), so the taken-over job waits in the fair backlog.
      if (fairness === 'per-tenant') await notifyOnce(email(tenant, 'released-first'), options);
      let lateAdd: (() => Promise<unknown>) | undefined;
      const dying = {
        ...real,
        settings: real.settings,
        parse: real.parse,
        queue: real.queue,
        enqueue: (data: never, opts: never) => {
          lateAdd = () => real.enqueue(data, opts);
          return new Promise(() => undefined);
        },
      } as unknown as typeof real;
      void notifyOnce(email(tenant), { ...options, queue: dying, pendingTtlMs: 500 });
      await waitFor(() => lateAdd !== undefined, 5000);
      await waitFor(async () => (await redisNow()) >= (await staleAt(key())), 5000);
      const results = await Promise.all(Array.from({ length: 50 }, () => notifyOnce(email(tenant), options)));
      const winners = results.filter((r) => r.enqueued);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.enqueued && r.jobId !== undefined).every((r) => r.jobId === winners[0]!.jobId)).toBe(true);
      // The "dead" claimer's add arrives after all, under the same job id: the fair backlog (HSETNX
      // on its jobs hash) or BullMQ refuses the duplicate id.
      if (fairness === 'per-tenant') expect(await (await real.getJob(winners[0]!.jobId!))?.getState()).toBe('pending');
      await lateAdd!();
      expect(await jobCount(options)).toBe(fairness === 'per-tenant' ? 2 : 1);
      expect((await real.counts()).pending).toBe(fairness === 'per-tenant' ? 1 : 0);
    },
  );

  it.each(['per-tenant', 'none'] as const)('a re-send after the window is a new job, not a no-op against the old job kept under its id (fairness %s)', async (fairness) => {
    const { options, tenant } = setup(fairness);
    const first = await notifyOnce(email(tenant), { ...options, ttlSeconds: 1 });
    expect(first.enqueued).toBe(true);
    // The first job fails for good (kept 7 days in the failed set under its id). On the fair queue
    // it is in BullMQ once the scheduler released it from the fair backlog.
    const definition = resolveNotificationQueue('email', options);
    const queue = definition.queue;
    await waitFor(async () => (await queue.getJobState(first.jobId!)) === 'waiting', 5000);
    const worker = new Worker(queue.name, null, { connection: workerConnection, prefix: queue.opts.prefix, autorun: false });
    const job = await worker.getNextJob('test-token');
    expect(job?.id).toBe(first.jobId);
    await job!.moveToFailed(new UnrecoverableError('provider said no'), 'test-token', false);
    await worker.close();
    expect(await queue.getJobState(first.jobId!)).toBe('failed');
    expect(await notifyOnce(email(tenant), { ...options, ttlSeconds: 1 })).toMatchObject({ enqueued: false });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await notifyOnce(email(tenant), { ...options, ttlSeconds: 1 });
    expect(second.enqueued).toBe(true);
    expect(second.jobId).not.toBe(first.jobId);
    // Waiting in BullMQ, or (fair) still pending in the fair backlog until the scheduler releases it.
    expect(await (await definition.getJob(second.jobId!))?.getState()).toEqual(fairness === 'per-tenant' ? expect.stringMatching(/^(pending|waiting)$/) : 'waiting');
    expect(await jobCount(options)).toBe(2);
  });

  it('if the dedupe key is lost after the enqueue (deleted by hand), BullMQ refuses the twin job', async () => {
    const { options, tenant, key } = setup();
    const first = await notifyOnce(email(tenant), options);
    await redis.del(key());
    const second = await notifyOnce(email(tenant), options);
    expect(second.jobId).toBe(first.jobId);
    expect(await jobCount(options)).toBe(1);
  });

  it('if the dedupe key is lost after a worker handled the job and BullMQ removed it, the twin is still refused', async () => {
    const { options, tenant, key } = setup();
    const first = await notifyOnce(email(tenant), options);
    await updateStatus(redis, `${options.keyPrefix}:notify-status:${first.jobId}`, { state: 'delivered', attempts: 1 });
    await removeFromBullMQ(resolveNotificationQueue('email', options), first.jobId!);
    await redis.del(key());
    expect(await notifyOnce(email(tenant), options)).toEqual({ enqueued: false, jobId: first.jobId });
    expect(await jobCount(options)).toBe(0);
  });

  it('getNotificationStatus: queued for a new notification, null for an unknown job', async () => {
    const { options, tenant } = setup();
    const { jobId } = await notifyOnce(email(tenant), options);
    expect(await getNotificationStatus(jobId!, options)).toEqual({ state: 'queued', attempts: 0 });
    expect(await getNotificationStatus(`notify-email-${'0'.repeat(40)}`, options)).toBeNull();
  });

  it.each(['fair backlog', 'plain'] as const)(
    'writes no status record: before any worker runs, getNotificationStatus answers queued from the queue (%s)',
    async (where) => {
      const { options, tenant } = setup();
      // Window 1: one job released into BullMQ at a time, so with no worker the second stays pending.
      const queue =
        where === 'plain'
          ? plainEmailQueue(options.keyPrefix)
          : notificationQueue('email', { connection: redis, prefix: `${bullPrefixFor(options.keyPrefix)}-fair`, fairness: { window: 1 } });
      if (where !== 'plain') plainQueues.push(queue);
      const opts = { ...options, queue };
      if (where !== 'plain') expect((await notifyOnce(email(tenant, 'released-first'), opts)).enqueued).toBe(true);
      const { jobId } = await notifyOnce(email(tenant), opts);
      expect(await (await queue.getJob(jobId!))?.getState()).toBe(where === 'plain' ? 'waiting' : 'pending');
      expect(await redis.exists(statusKey(options.keyPrefix, jobId!))).toBe(0);
      expect(await getNotificationStatus(jobId!, opts)).toEqual({ state: 'queued', attempts: 0 });
    },
  );

  standaloneOnly(it, "watches one private redis-server's MONITOR")(
    `one notifyOnce runs at most ${COMMANDS_PER_NOTIFY} Redis commands; of the status hash it reads the state and writes nothing`,
    async () => {
      const server = await startRedisServer();
      const producer = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'producer' });
      const keyPrefix = uniquePrefix('cmds');
      // A plain queue without job statistics: only notifyOnce's own commands, none of a fair scheduler's.
      const queue = notificationQueue('email', { connection: producer, prefix: bullPrefixFor(keyPrefix), fairness: 'none', recordStats: false });
      const opts = { connection: producer, keyPrefix, queue };
      try {
        // Loads the scripts, so the measured call runs EVALSHA alone.
        await notifyOnce(email('t', 'warm-up'), opts);
        const monitor = await (producer as Redis).monitor();
        const seen: string[][] = [];
        monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
        const { jobId } = await notifyOnce(email('t'), opts);
        await producer.echo('end-of-call');
        await waitFor(() => seen.some((args) => args[0]?.toLowerCase() === 'echo'), 5000);
        monitor.disconnect();
        const commands = seen.slice(0, seen.findIndex((args) => args[0]?.toLowerCase() === 'echo'));
        const status = statusKey(keyPrefix, jobId!);
        // EVALSHA names the key (KEYS[3]); inside it only the HGET of the "handled by a worker" check.
        expect(commands.filter((args) => args.includes(status) && args[0]?.toLowerCase() !== 'evalsha').map((args) => args[0]!.toLowerCase())).toEqual(['hget']);
        expect(await producer.exists(status)).toBe(0);
        expect(commands.length).toBeLessThanOrEqual(COMMANDS_PER_NOTIFY);
      } finally {
        await queue.close();
        producer.disconnect();
        await server.stop();
      }
    },
  );

  standaloneOnly(it, "watches one private redis-server's MONITOR")('the claims of one batch read the Redis clock once (one TIME per batch script call, not per claim)', async () => {
    const server = await startRedisServer();
    const producer = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'producer' });
    const keyPrefix = uniquePrefix('time');
    const queue = notificationQueue('email', { connection: producer, prefix: bullPrefixFor(keyPrefix), fairness: 'none', recordStats: false });
    const opts = { connection: producer, keyPrefix, queue };
    try {
      await Promise.all([notifyOnce(email('t', 'warm-1'), opts), notifyOnce(email('t', 'warm-2'), opts)]); // loads both scripts
      const monitor = await (producer as Redis).monitor();
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => notifyOnce(email('t', `batch-${i}`), opts)));
      await producer.echo('end-of-batch');
      await waitFor(() => seen.some((args) => args[0]?.toLowerCase() === 'echo'), 5000);
      monitor.disconnect();
      expect(results.every((r) => r.enqueued)).toBe(true);
      const commands = seen.map((args) => args[0]!.toLowerCase());
      expect(commands.filter((c) => c === 'get')).toHaveLength(20);
      expect(commands.filter((c) => c === 'time')).toHaveLength(1);
    } finally {
      await queue.close();
      producer.disconnect();
      await server.stop();
    }
  });

  standaloneOnly(it, "watches one private redis-server's MONITOR")(
    'a batch of claims sends the window, the pending time, the cluster flag and the fair backlog key once, not once per claim',
    async () => {
      const server = await startRedisServer();
      const producer = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'producer' });
      const keyPrefix = uniquePrefix('shared');
      const queue = notificationQueue('email', { connection: producer, prefix: bullPrefixFor(keyPrefix), fairness: 'none', recordStats: false });
      // Values no other argument of the batch can equal.
      const opts = { connection: producer, keyPrefix, queue, ttlSeconds: 4321, pendingTtlMs: 12_345 };
      try {
        await Promise.all([notifyOnce(email('t', 'warm-1'), opts), notifyOnce(email('t', 'warm-2'), opts)]); // loads both scripts
        const monitor = await (producer as Redis).monitor();
        const seen: string[][] = [];
        monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => notifyOnce(email('t', `shared-${i}`), opts)));
        await producer.echo('end-of-batch');
        await waitFor(() => seen.some((args) => args[0]?.toLowerCase() === 'echo'), 5000);
        monitor.disconnect();
        expect(results.every((r) => r.enqueued)).toBe(true);
        const batches = seen.filter((args) => args[0]?.toLowerCase() === 'evalsha' && args[1] === claimNotificationBatchScript.sha);
        expect(batches).toHaveLength(1);
        const batch = batches[0]!;
        const count = (value: string) => batch.filter((arg) => arg === value).length;
        expect([count('4321000'), count('12345'), count(fairPendingJobsKey(queue))]).toEqual([1, 1, 1]);
        // sha, key count; the fair key, 3 keys per claim; 4 counts, 3 shared values, 3 arguments per claim (10 strings per claim before).
        expect(batch).toHaveLength(3 + 1 + 3 * 20 + 4 + 3 + 3 * 20);
      } finally {
        await queue.close();
        producer.disconnect();
        await server.stop();
      }
    },
  );

  it('a job id is never an integer and never contains ":"', async () => {
    const { options, tenant } = setup();
    const { jobId } = await notifyOnce(email(tenant, 'a:b:123'), options);
    expect(jobId).toMatch(/^notify-email-[0-9a-f]{40}$/);
  });

  it('a job id is the SHA-1 of key, window and bucket, as in every earlier version (a twin queued before an upgrade keeps its id)', () => {
    const key = notifyKey('', 'acme', 'welcome', 'a:b');
    const expected = createHash('sha1').update(`${key}\n86400000\n20424`).digest('hex');
    expect(notificationJobId('email', key, 86_400_000, 20424 * 86_400_000 + 5)).toBe(`notify-email-${expected}`);
  });
});

describe('one key namespace', () => {
  // On a cluster the channel queue's prefix carries its hash tag.
  const queuePrefixOf = (base: string) => (redis.isCluster ? clusterQueuePrefix(base, 'notifications__email') : base);
  /** The BullMQ hash of an e-mail job under base prefix `base` (on a cluster the queue's prefix carries its hash tag). */

  it('keyPrefix moves the dedupe key and the channel queue together', async () => {
    const { options, tenant } = setup();
    const { jobId } = await notifyOnce(email(tenant), options);
    expect(await redis.get(`${options.keyPrefix}:notify:${tenant}:activity-completed:activity-1`)).toMatch(enqueuedClaimOf(jobId!));
    expect(await redis.exists(`notify:${tenant}:activity-completed:activity-1`)).toBe(0);
    expect(resolveNotificationQueue('email', options).settings.prefix).toBe(queuePrefixOf(`${options.keyPrefix}:bull`));
    expect(await resolveNotificationQueue('email', options).getJob(jobId!)).toBeDefined();
    expect(await getNotificationStatus(jobId!, options)).toEqual({ state: 'queued', attempts: 0 });
  });

  it('REDIS_KEY_PREFIX is the default of keyPrefix; empty keeps the BullMQ prefix "bull"', async () => {
    const { options, tenant } = setup();
    const before = process.env.REDIS_KEY_PREFIX;
    process.env.REDIS_KEY_PREFIX = options.keyPrefix;
    try {
      const { jobId } = await notifyOnce(email(tenant), { connection: redis });
      expect(await redis.get(`${options.keyPrefix}:notify:${tenant}:activity-completed:activity-1`)).toMatch(enqueuedClaimOf(jobId!));
      // In BullMQ under `<keyPrefix>:bull`, or pending in the fair backlog under the same prefix.
      const definition = resolveNotificationQueue('email', { connection: redis });
      expect(definition.settings.prefix).toBe(queuePrefixOf(`${options.keyPrefix}:bull`));
      expect(await definition.getJob(jobId!)).toBeDefined();
    } finally {
      if (before === undefined) delete process.env.REDIS_KEY_PREFIX;
      else process.env.REDIS_KEY_PREFIX = before;
    }
    const tagged = (base: string) => (redis.isCluster ? clusterQueuePrefix(base, 'notifications__email') : base);
    expect(resolveNotificationQueue('email', { connection: redis, keyPrefix: '' }).settings.prefix).toBe(tagged('bull'));
    expect(resolveNotificationQueue('email', { connection: redis, keyPrefix: 'acme' }).settings.prefix).toBe(tagged('acme:bull'));
  });
});

describe('when Redis is down', () => {
  it('the claim rejects with RedisUnavailableError within the producer bound, and nothing is left behind', async () => {
    const server = await startRedisServer();
    const config = loadRedisConfig({ REDIS_URL: server.url });
    const producer = createRedisConnection(config, { role: 'producer', commandTimeoutMs: 1000 });
    const { tenant } = setup();
    const keyPrefix = uniquePrefix('down');
    const queue = notificationQueue('email', { connection: producer, prefix: bullPrefixFor(keyPrefix), enqueueTimeoutMs: 1000, onError: () => undefined });
    try {
      expect((await notifyOnce(email(tenant, 'before'), { connection: producer, keyPrefix, queue })).enqueued).toBe(true);
      await server.stop();
      const started = Date.now();
      const error = await notifyOnce(email(tenant), { connection: producer, keyPrefix, queue }).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect((error as RedisUnavailableError).code).toBe('REDIS_UNAVAILABLE');
      expect((error as Error).message).toMatch(/notifyOnce notifications__email: Redis is unavailable/);
      // Documented bound: the producer's commandTimeoutMs (1 s here), with margin for a loaded machine.
      expect(elapsed).toBeLessThan(3000);
      // The status query reports the same shape.
      const statusError = await getNotificationStatus(`notify-email-${'0'.repeat(40)}`, { connection: producer, keyPrefix, queue }).catch((e: unknown) => e);
      expect(statusError).toBeInstanceOf(RedisUnavailableError);
    } finally {
      producer.disconnect();
      await queue.close().catch(() => undefined);
      await server.stop();
    }
  });
});
