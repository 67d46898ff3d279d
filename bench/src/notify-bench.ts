import { closeNotificationQueues, notifyOnce } from '@platform/notifications';
import { defaultJobOptions, notificationQueue } from '@platform/queue';
import { Queue } from 'bullmq';
import { bullPrefixFor, type RedisClient } from '@platform/redis';
import type { BenchContext } from './context';
import { throughput } from './measure';
import { alternate } from './results';

const TYPE = 'bench';
const PAYLOAD = { to: 'ada@example.test', subject: 'Your report is ready', text: 'The weekly report is attached.' };
const WINDOW_SECONDS = 86_400;

/** The two ways to send a notification at most once: notifyOnce, and SET NX EX + queue.add by hand. */
export interface NotifySides {
  platformPrefix: string;
  rawPrefix: string;
  /** Prefix of the platform's dedupe keys (`<platformPrefix>:notify:{tenantId}:...`). */
  platformKeyPrefix: string;
  /** Prefix of the raw dedupe keys. */
  rawKeyPrefix: string;
  platform(dedupeKey: string): Promise<boolean>;
  raw(dedupeKey: string): Promise<boolean>;
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export function notifySides(ctx: BenchContext, label: string): NotifySides {
  const tenantId = `${ctx.runId}-${label}`;
  const platformPrefix = `${ctx.runId}-${label}-p`;
  const rawPrefix = `${ctx.runId}-${label}-r`;
  const platformKeyPrefix = `${platformPrefix}:notify:${tenantId}:`;
  const rawKeyPrefix = `${ctx.runId}-${label}-dedupe:`;
  const connection: RedisClient = ctx.platformClient('producer');
  const rawClient = ctx.plainClient();
  const rawQueue = new Queue('notifications__email', { connection: rawClient, prefix: rawPrefix, defaultJobOptions: { ...defaultJobOptions } });
  rawQueue.on('error', () => undefined);
  // The raw side adds to a FIFO BullMQ queue, so the platform side's channel queue is FIFO too
  // (`fairness: 'none'`; the catalog's channel queues are fair by default): the ratio is the cost of
  // notifyOnce, not of fair scheduling, which the fairness section measures on its own.
  const platformQueue = notificationQueue('email', { connection, prefix: bullPrefixFor(platformPrefix), fairness: 'none', onError: () => undefined });
  return {
    platformPrefix,
    rawPrefix,
    platformKeyPrefix,
    rawKeyPrefix,
    async platform(dedupeKey) {
      const result = await notifyOnce({ tenantId, type: TYPE, dedupeKey, channel: 'email', payload: PAYLOAD }, { connection, keyPrefix: platformPrefix, queue: platformQueue });
      return result.enqueued;
    },
    async raw(dedupeKey) {
      const claimed = await rawClient.set(`${rawKeyPrefix}${TYPE}:${dedupeKey}`, '1', 'EX', WINDOW_SECONDS, 'NX');
      if (claimed !== 'OK') return false;
      await rawQueue.add('email', { tenantId, type: TYPE, dedupeKey, payload: PAYLOAD });
      return true;
    },
    async cleanup() {
      for (const prefix of [platformKeyPrefix, rawKeyPrefix, `${platformPrefix}:`, `${rawPrefix}:`]) await ctx.deleteKeys(prefix);
    },
    async close() {
      await rawQueue.close();
      await platformQueue.close();
      await closeNotificationQueues();
    },
  };
}

/** Section 4: notifyOnce against a raw SET NX EX + queue.add, 50 in flight, every key new. */
export async function runNotifyBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log } = ctx;
  const section = '4. Notifications';
  const sides = notifySides(ctx, 'n');
  const n = ctx.size(5000, 200);
  const benchmark = 'send at most once, new dedupe key each call, 50 in flight';
  results.figure({ id: 'notify.platform', section, benchmark, subject: '@platform/notifications notifyOnce', unit: 'notifications/s', better: 'higher' });
  results.figure({ id: 'notify.raw', section, benchmark, subject: 'raw SET NX EX + BullMQ queue.add', unit: 'notifications/s', better: 'higher' });
  results.compare({ label: 'notifyOnce / raw SET NX + queue.add', platform: 'notify.platform', anchor: 'notify.raw', op: '>=', target: 0.9 });

  const check = (enqueued: boolean) => {
    if (!enqueued) throw new Error('notify benchmark: a new dedupe key was refused');
  };
  await throughput(100, 20, async (i) => check(await sides.platform(`warm-${i}`)));
  await throughput(100, 20, async (i) => check(await sides.raw(`warm-${i}`)));
  await sides.cleanup();

  await alternate(ctx.rounds, [
    { name: 'platform', run: async (round) => { results.add('notify.platform', await throughput(n, 50, async (i) => check(await sides.platform(`r${round}-${i}`)))); await sides.cleanup(); } },
    { name: 'raw', run: async (round) => { results.add('notify.raw', await throughput(n, 50, async (i) => check(await sides.raw(`r${round}-${i}`)))); await sides.cleanup(); } },
  ], log);
  results.notes.push(
    `Notifications: e-mail channel, ${n} notifications per round, each with a new dedupe key (so each one is enqueued); ` +
      `platform on a createRedisConnection producer connection, its channel queue FIFO (fairness: 'none', as the raw side's BullMQ queue; the catalog's default is 'per-tenant'), ` +
      `raw on a plain ioredis client with the platform's job options.`,
  );
  await sides.close();
  await sides.cleanup();
}
