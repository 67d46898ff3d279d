import { agentQueue, defaultJobOptions } from '@platform/queue';
import { Queue } from 'bullmq';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchContext } from './context';
import { throughput } from './measure';
import { notifySides } from './notify-bench';
import { createRateLimiter } from '@platform/ratelimit';

type LimiterAlgorithm = NonNullable<Parameters<typeof createRateLimiter>[0]['algorithm']>;

const ALGORITHMS: readonly { algorithm: LimiterAlgorithm; short: string }[] = [
  { algorithm: 'fixed-window', short: 'fixed' },
  { algorithm: 'sliding-window', short: 'sliding' },
  { algorithm: 'sliding-log', short: 'log' },
  { algorithm: 'token-bucket', short: 'token' },
];

/**
 * Section 5: bytes in Redis per waiting job, per dedupe key and per limiter key. Bytes are the sum
 * of `MEMORY USAGE key SAMPLES 0` over the keys a subject wrote (works on a shared server); on a
 * private server the `used_memory` delta is reported too.
 */
export async function runMemoryBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log, runId } = ctx;
  const section = '5. Memory';
  const nJobs = ctx.size(10_000, 300);
  const nDedupe = ctx.size(2000, 100);
  const tenants = ctx.size(1000, 100);

  // --- per waiting job
  log('  bytes per waiting job');
  const jobBench = `per waiting job (${nJobs} jobs)`;
  results.figure({ id: 'mem.job.platform', section, benchmark: jobBench, subject: '@platform/queue', unit: 'B', better: 'lower' });
  results.figure({ id: 'mem.job.bullmq', section, benchmark: jobBench, subject: 'raw BullMQ, same job options', unit: 'B', better: 'lower' });
  results.figure({ id: 'mem.job.bullmqdefaults', section, benchmark: jobBench, subject: 'raw BullMQ, BullMQ default options', unit: 'B', better: 'lower' });
  results.compare({ label: 'bytes per waiting job: platform / BullMQ (same options)', platform: 'mem.job.platform', anchor: 'mem.job.bullmq', op: '<=', target: 1.05 });
  results.compare({ label: 'bytes per waiting job: platform / BullMQ (BullMQ defaults)', platform: 'mem.job.platform', anchor: 'mem.job.bullmqdefaults' });
  if (ctx.privateServer) {
    const deltaBench = `per waiting job, used_memory delta (${nJobs} jobs)`;
    results.figure({ id: 'mem.jobdelta.platform', section, benchmark: deltaBench, subject: '@platform/queue', unit: 'B', better: 'lower' });
    results.figure({ id: 'mem.jobdelta.bullmq', section, benchmark: deltaBench, subject: 'raw BullMQ, same job options', unit: 'B', better: 'lower' });
    results.compare({ label: 'bytes per waiting job (used_memory): platform / BullMQ', platform: 'mem.jobdelta.platform', anchor: 'mem.jobdelta.bullmq' });
  }
  const payload = (i: number) => ({ tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} });
  const role = `${runId}-m`;
  const variants = [
    { id: 'platform', prefix: `${runId}-m-p` },
    { id: 'bullmq', prefix: `${runId}-m-r` },
    { id: 'bullmqdefaults', prefix: `${runId}-m-d` },
  ];
  for (const v of variants) {
    const before = ctx.privateServer ? await ctx.usedMemory() : 0;
    if (v.id === 'platform') {
      // FIFO (`fairness: 'none'`): compared with raw BullMQ's waiting jobs, not with jobs in a fair backlog.
      const def = agentQueue(role, { connection: ctx.platformClient('producer'), prefix: v.prefix, fairness: 'none', onError: () => undefined });
      await throughput(nJobs, 50, (i) => def.enqueue(payload(i)));
      await def.close();
    } else {
      const queue = new Queue(`agent__${role}`, {
        connection: ctx.plainClient(),
        prefix: v.prefix,
        ...(v.id === 'bullmq' ? { defaultJobOptions: { ...defaultJobOptions } } : {}),
      });
      queue.on('error', () => undefined);
      await throughput(nJobs, 50, (i) => queue.add(role, payload(i)));
      await queue.close();
    }
    const after = ctx.privateServer ? await ctx.usedMemory() : 0;
    const { bytes } = await ctx.memoryOfKeys(`${v.prefix}:`);
    results.add(`mem.job.${v.id}`, bytes / nJobs);
    if (ctx.privateServer && v.id !== 'bullmqdefaults') results.add(`mem.jobdelta.${v.id}`, (after - before) / nJobs);
    await ctx.deleteKeys(`${v.prefix}:`);
  }

  // --- per dedupe key (and per notification, all keys included)
  log('  bytes per dedupe key');
  const sides = notifySides(ctx, 'md');
  for (let i = 0; i < nDedupe; i++) {
    await sides.platform(`k${i}`);
    await sides.raw(`k${i}`);
  }
  const dedupeBench = `per dedupe key (${nDedupe} keys)`;
  const allBench = `per notification, dedupe key + job + BullMQ keys + status record if any (${nDedupe})`;
  results.figure({ id: 'mem.dedupe.platform', section, benchmark: dedupeBench, subject: 'notifyOnce key', unit: 'B', better: 'lower' });
  results.figure({ id: 'mem.dedupe.raw', section, benchmark: dedupeBench, subject: 'raw SET NX EX key', unit: 'B', better: 'lower' });
  results.figure({ id: 'mem.notification.platform', section, benchmark: allBench, subject: 'notifyOnce', unit: 'B', better: 'lower' });
  results.figure({ id: 'mem.notification.raw', section, benchmark: allBench, subject: 'raw SET NX EX + queue.add', unit: 'B', better: 'lower' });
  results.compare({ label: 'bytes per dedupe key: notifyOnce / raw SET NX', platform: 'mem.dedupe.platform', anchor: 'mem.dedupe.raw' });
  results.compare({ label: 'bytes per notification: notifyOnce / raw', platform: 'mem.notification.platform', anchor: 'mem.notification.raw' });
  const pKeys = await ctx.memoryOfKeys(sides.platformKeyPrefix);
  const rKeys = await ctx.memoryOfKeys(sides.rawKeyPrefix);
  const pQueue = await ctx.memoryOfKeys(`${sides.platformPrefix}:bull:`);
  // The delivery status record (raw has none): since round 4 a worker creates it when it first takes
  // the job, so with no worker here there is none (it was ~230 B per notification when the claim wrote it).
  const pStatus = await ctx.memoryOfKeys(`${sides.platformPrefix}:notify-status:`);
  const rQueue = await ctx.memoryOfKeys(`${sides.rawPrefix}:`);
  results.add('mem.dedupe.platform', pKeys.bytes / nDedupe);
  results.add('mem.dedupe.raw', rKeys.bytes / nDedupe);
  results.add('mem.notification.platform', (pKeys.bytes + pQueue.bytes + pStatus.bytes) / nDedupe);
  results.add('mem.notification.raw', (rKeys.bytes + rQueue.bytes) / nDedupe);
  await sides.close();
  await sides.cleanup();

  // --- per limiter key, after 1 and after 10 calls
  log('  bytes per limiter key');
  const client = ctx.plainClient();
  // 10 per minute: every call below is allowed, and keys live long enough to be measured (a
  // token bucket's key lives until the bucket is full again: one token interval per call).
  const limit = 10;
  const windowSeconds = 60;
  const subjects: { id: string; subject: string; prefix: string; consume(tenantId: string): Promise<unknown> }[] = [];
  {
    for (const { algorithm, short } of ALGORITHMS) {
      const limiter = createRateLimiter({ redis: client, provider: `${runId}-mem`, limit, windowSeconds, algorithm });
      subjects.push({ id: short, subject: `@platform/ratelimit ${algorithm}`, prefix: `ratelimit:${runId}-m${short}-`, consume: (t) => limiter.consume(t) });
    }
  }
  const rlf = new RateLimiterRedis({ storeClient: client, useRedisPackage: false, keyPrefix: `${runId}-mrlf`, points: limit, duration: windowSeconds });
  subjects.push({ id: 'rlf', subject: 'rate-limiter-flexible', prefix: `${runId}-mrlf:${runId}-mrlf-`, consume: (t) => rlf.consume(t) });
  subjects.push({
    id: 'naive',
    subject: 'naive INCR + EXPIRE',
    prefix: `${runId}-mnaive:`,
    consume: async (t) => {
      const key = `${runId}-mnaive:${t}`;
      await client.incr(key);
      await client.expire(key, windowSeconds);
    },
  });
  for (const calls of [1, 10]) {
    const bench = `per limiter key after ${calls} call${calls > 1 ? 's' : ''} (${tenants} keys)`;
    for (const s of [...ALGORITHMS.map((a) => a.short), 'rlf', 'naive']) {
      const subject = subjects.find((x) => x.id === s)?.subject ?? `@platform/ratelimit ${ALGORITHMS.find((a) => a.short === s)?.algorithm}`;
      results.figure({ id: `mem.rl${calls}.${s}`, section, benchmark: bench, subject, unit: 'B', better: 'lower' });
    }
    for (const { short, algorithm } of ALGORITHMS) {
      // The sliding-window counter is one integer per key, like rate-limiter-flexible's counter.
      const target = short === 'sliding' ? ({ op: '<=', target: 1.25 } as const) : {};
      results.compare({ label: `bytes per limiter key after ${calls}: ${algorithm} / rate-limiter-flexible`, platform: `mem.rl${calls}.${short}`, anchor: `mem.rl${calls}.rlf`, ...target });
    }
    for (const s of subjects) {
      // Tenants named per subject, so the keys of each subject share a prefix of their own.
      const tenantOf = (i: number) => `${runId}-m${s.id}-${i % tenants}`;
      await throughput(tenants * calls, 50, (i) => s.consume(tenantOf(i)));
      const { bytes, keys } = await ctx.memoryOfKeys(s.prefix);
      if (keys < tenants) throw new Error(`memory: ${s.subject} left ${keys} of ${tenants} keys to measure`);
      results.add(`mem.rl${calls}.${s.id}`, bytes / keys);
      await ctx.deleteKeys(s.prefix);
    }
  }
  results.notes.push(
    'Memory: one round (the figures are deterministic up to allocator rounding). Bytes = sum of MEMORY USAGE <key> SAMPLES 0 ' +
      'over every key the subject wrote (key name, value and Redis overhead, including BullMQ\'s id counter, meta, events stream), divided by the count. ' +
      'Limiter keys: limit 10 per 60 s, measured right after 1 and after 10 calls per tenant.',
  );
}
