import { isConnectionError, type RedisClient } from '@platform/redis';
import type { Job, Queue } from 'bullmq';
import { fairScripts } from './scripts';
import { TenantBacklogFullError } from '../errors';
import { addRefusedError } from '../producer/producer';

/**
 * The hold: a fair job enters BullMQ at its enqueue as a delayed job this far in the future (its
 * delayed score `(timestamp + delay) * 0x1000 + n` stays below 2^53), so no worker takes it until
 * the dispatch script releases it. Delayed jobs beyond half of it are counted as held.
 */
export const HELD_DELAY_MS = 1e11;

/**
 * Takes the hold out of a fair job's options read from Redis (its stored options carry the delay
 * it was added with), so handlers, job stats and `getJob` callers see the options it was enqueued
 * with. A job the caller delayed keeps its own delay.
 */
export function withoutHold(job: { opts: { delay?: number } }): void {
  if (job.opts.delay === HELD_DELAY_MS) delete job.opts.delay;
}

/**
 * The lowest BullMQ delayed score (`ms * 0x1000`) of a job held for a fair queue's dispatcher, at
 * `nowMs`: held jobs enqueued within the last `HELD_DELAY_MS / 2` ms are at or above it, and a
 * user's delayed job only when its delay is longer than that (about 1.6 years). For
 * `ZCOUNT <queue>:delayed <floor> +inf`: the jobs pending in a fair queue's backlog.
 */
export function fairHeldScoreFloor(nowMs: number): number {
  return (nowMs + HELD_DELAY_MS / 2) * 0x1000;
}

/**
 * `queue.promoteJobs()` of a fair queue's BullMQ queue: promotes the jobs its callers delayed, never
 * the held ones. BullMQ's own moves every delayed job to wait, which would release the fair
 * backlog all at once, past its tenants' turns. Batches of `count` (BullMQ's default, 1,000) by
 * delayed score below {@link fairHeldScoreFloor}; a job that cannot be promoted any more (removed,
 * or promoted by another caller meanwhile) is skipped, and the loop ends when a batch promotes
 * nothing. A connection failure rejects, as BullMQ's does. `client`: a connection to the queue's
 * server (on a cluster, to its slot's master).
 */
export async function promoteCallerDelayedJobs(queue: Queue, client: RedisClient, opts: { count?: number } = {}): Promise<void> {
  const count = opts.count ?? 1000;
  const promote = async (id: string): Promise<boolean> => {
    try {
      const job = await queue.getJob(id);
      if (!job) return false;
      await job.promote();
      return true;
    } catch (error) {
      // BullMQ's "missing key" or "not in the delayed state": gone or promoted meanwhile.
      if (isConnectionError(error)) throw error;
      return false;
    }
  };
  for (;;) {
    const ids = await client.zrangebyscore(queue.toKey('delayed'), '-inf', `(${fairHeldScoreFloor(Date.now())}`, 'LIMIT', 0, count);
    if (ids.length === 0 || !(await Promise.all(ids.map(promote))).includes(true)) return;
  }
}

type Reply = [Error | null, unknown];

const nothingWritten = new WeakSet<object>();

/** Marks an error a fair enqueue threw before it sent anything. */
export function markNothingWritten(error: unknown): void {
  if (typeof error === 'object' && error !== null) nothingWritten.add(error);
}

/**
 * Whether a failed fair enqueue wrote nothing, so that its entries may be sent again one by one:
 * the script refused it (a tenant's backlog is full), or BullMQ refused an entry's options before
 * anything was sent. Any other failure may come after the MULTI ran (a lost reply).
 */
export function fairEnqueueWroteNothing(error: unknown): boolean {
  return error instanceof TenantBacklogFullError || (typeof error === 'object' && error !== null && nothingWritten.has(error));
}

/** The ioredis side of BullMQ's client (its proxy forwards these to the ioredis instance). */
interface RawClient {
  scriptsSet?: Record<string, { lua: string }>;
  isCluster?: boolean;
  nodes?(role: 'master'): RedisClient[];
  script(subcommand: 'LOAD', lua: string): Promise<unknown>;
}

const isNoScript = (error: Error | null): boolean => error !== null && error.message.includes('NOSCRIPT');

/**
 * Loads BullMQ's add script and the fair enqueue script on the server (every master of a cluster):
 * inside a MULTI neither ioredis nor the platform can fall back to EVAL, and ioredis keeps taking
 * the script for loaded on its socket after a `SCRIPT FLUSH` or a restart.
 */
async function loadScripts(client: unknown): Promise<void> {
  const raw = client as RawClient;
  const luas = Object.entries(raw.scriptsSet ?? {})
    .filter(([name]) => name.startsWith('addDelayedJob'))
    .map(([, script]) => script.lua);
  luas.push(fairScripts.enqueue.lua);
  const targets = raw.isCluster && raw.nodes ? (raw.nodes('master') as unknown as RawClient[]) : [raw];
  await Promise.all(targets.flatMap((target) => luas.map((lua) => target.script('LOAD', lua))));
}

/**
 * Adds `jobs` (each with the hold as its `delay`) to BullMQ (BullMQ's own add: its deduplication, duplicate ids and events) and
 * records them with the fair enqueue script, in one MULTI, so a job is held and pending, or
 * neither. `params` are the script's key count, keys and arguments. Returns BullMQ's answer for
 * each job (its id, or the first job's for a deduplicated twin) and the script's reply.
 */
export async function holdAndRecord(
  queue: Queue,
  jobs: readonly Job[],
  params: readonly (string | number)[],
  producer: RedisClient,
): Promise<{ ids: string[]; reply: unknown }> {
  const bullClient = await queue.getBackend().client;
  const exec = async (): Promise<Reply[]> => {
    const multi = bullClient.multi();
    try {
      for (const job of jobs) {
        // Queued on the MULTI synchronously; BullMQ refuses bad options here (it throws), before anything is sent.
        void job.addJob(multi as never).catch(() => undefined);
      }
    } catch (error) {
      markNothingWritten(error);
      throw error;
    }
    (multi as unknown as { evalsha(...args: Array<string | number>): unknown }).evalsha(fairScripts.enqueue.sha, ...params);
    return ((await multi.exec()) ?? []) as Reply[];
  };
  let results = await exec();
  // The server lost its scripts: no add ran, so nothing was written; load them and send again.
  if (results.slice(0, jobs.length).some(([error]) => isNoScript(error))) {
    await loadScripts(bullClient);
    results = await exec();
  }
  const failed = results.slice(0, jobs.length).find(([error]) => error);
  let [scriptError, reply] = results[jobs.length] ?? [new Error('fair enqueue: no reply from Redis'), undefined];
  if (isNoScript(scriptError)) {
    // Only the fair script was missing: the jobs BullMQ just held are recorded now (the script
    // records exactly the held jobs of the batch that are not pending yet).
    reply = await fairScripts.enqueue.runWithKeyCount(producer as never, Number(params[0]), params.slice(1));
    scriptError = null;
  }
  if (failed) throw failed[0];
  if (scriptError) throw scriptError;
  const ids = results.slice(0, jobs.length).map(([, id]) => id);
  // Inside a MULTI BullMQ's add answers an impossible add (a missing parent) with a negative code,
  // not an error; the script recorded no such job, so it is not enqueued and must not be answered as one.
  const refused = ids.findIndex((id) => typeof id === 'number' && id < 0);
  if (refused >= 0) throw addRefusedError(ids[refused] as number, jobs[refused]!.parentKey);
  return { ids: ids.map(String), reply };
}
