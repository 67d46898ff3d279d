import { Job, type JobJson, type JobState, type Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { scanKeys } from '@platform/redis/internal';
import { fairKeys, type FairKeys } from './keys';
import { fairHeldScoreFloor, promoteCallerDelayedJobs, withoutHold } from './hold';
import { fairScripts, runWithTenantKeys } from './scripts';
import { FairJobPendingError } from '../errors';

/** The state of a job on a fair queue: BullMQ's, or `pending` while it is held for the fair dispatcher. */
export type FairJobState = JobState | 'pending' | 'unknown';

const heldFloor = (): number => fairHeldScoreFloor(Date.now());
/** Pending ids a fair `drain` reads per tenant and round. */
const DRAIN_CHUNK = 1000;
/** BullMQ `remove` calls a fair `drain` has in flight at once. */
const DRAIN_REMOVES_IN_FLIGHT = 200;

interface BacklogRef {
  client: () => RedisClient;
  keys: FairKeys;
  /** Whether the queue is fair, read from Redis; absent when it is known to be (a fair definition's queue). */
  isFair?: () => Promise<boolean>;
}

/** The backlog of each fair queue's BullMQ `Queue` (the queue its FairJobs were made or read by). */
const backlogOf = new WeakMap<object, BacklogRef>();

/** Whether job `id` is held (pending): in BullMQ's delayed set at a held score. */
async function isHeld(ref: BacklogRef, id: string): Promise<boolean> {
  const score = await ref.client().zscore(ref.keys.delayed, id);
  return score !== null && Number(score) >= heldFloor();
}

/**
 * A job of a fair queue, as the queue's producer and its BullMQ `Queue` hand it out (`enqueue`,
 * `getJob`, and BullMQ's `queue.getJob`, `getJobs`, `getDelayed`...):
 * - `getState()` is `'pending'` while the job is held for the fair dispatcher (BullMQ alone would
 *   say `'delayed'`), and BullMQ's once it was released;
 * - `opts` are the options it was enqueued with: a job read from Redis has the hold taken out of
 *   `opts.delay` (a job the caller delayed keeps its own delay);
 * - `promote()` and `changeDelay()` of a held job reject with {@link FairJobPendingError} and change
 *   nothing: BullMQ's would make it due at once, past its tenant's turn. A job the caller
 *   delayed is promoted or re-delayed as BullMQ does.
 */
export class FairJob<T = unknown> extends Job<T> {
  /** BullMQ's `fromJSON` (what `fromId`, `getJobs` and the other readers call), with the hold taken out of the options. */
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(queue: Job['queue'], json: JobJson, jobId?: string): Job<T, R, N> {
    const job = super.fromJSON<T, R, N>(queue, json, jobId);
    withoutHold(job);
    return job;
  }

  // BullMQ's JobState has no 'pending'; callers of a fair queue's jobs see it (see FairJobState).
  override async getState(): Promise<JobState | 'unknown'> {
    // Held first, then BullMQ's state: a job released in between reads as waiting, never unknown.
    if (await this.held()) return 'pending' as FairJobState as JobState;
    return super.getState();
  }

  override async promote(): Promise<void> {
    await this.refuseIfHeld('promote');
    return super.promote();
  }

  override async changeDelay(delay: number): Promise<void> {
    await this.refuseIfHeld('changeDelay');
    return super.changeDelay(delay);
  }

  /**
   * BullMQ's, which changes only the priority in the hash of a delayed job; a held job also takes
   * its new place in its tenant's backlog (its arrival order among jobs of the same priority kept).
   */
  override async changePriority(opts: { priority?: number; lifo?: boolean }): Promise<void> {
    await super.changePriority(opts);
    const backlog = backlogOf.get(this.queue);
    const tenantId = (this.data as { tenantId?: unknown } | undefined)?.tenantId;
    if (this.id === undefined || backlog === undefined || typeof tenantId !== 'string') return;
    const pendingKey = backlog.keys.pending(tenantId);
    const score = await backlog.client().zscore(pendingKey, this.id);
    if (score === null) return;
    // As at enqueue: BullMQ's priority range, then arrival. XX: a job released meanwhile is not put back.
    const priority = Math.min(Math.max(Math.trunc(Number(opts.priority) || 0), 0), 2 ** 21 - 1);
    await backlog.client().zadd(pendingKey, 'XX', priority * 2 ** 32 + (Number(score) % 2 ** 32), this.id);
  }

  private async held(): Promise<boolean> {
    const backlog = backlogOf.get(this.queue);
    if (this.id === undefined || backlog === undefined || !(await isHeld(backlog, this.id))) return false;
    // A held score on a queue not known to be fair: a plain queue's job delayed for over 1.6 years is not held.
    return backlog.isFair === undefined || (await backlog.isFair());
  }

  /** A held job only leaves the backlog at its tenant's turn. Released meanwhile: BullMQ decides (it refuses a job that is not delayed). */
  private async refuseIfHeld(operation: string): Promise<void> {
    if (await this.held()) throw new FairJobPendingError(this.queueName, this.id!, operation);
  }
}

/**
 * Keeps a fair queue's turns on a BullMQ `Queue` object: its `promoteJobs()` promotes only the
 * jobs callers delayed, and it hands out {@link FairJob}s (BullMQ builds every job it adds or reads
 * through `queue.Job`), which say `pending` while held, have no hold in `opts.delay` and refuse
 * `promote()` / `changeDelay()` while held. `client`: a connection to the queue's server (on a
 * cluster, its slot's master or a client that routes by key). `isFair`: for a queue opened by name
 * that may not be fair, read when it matters; without it the queue is taken for fair (a fair
 * definition's own queue). Idempotent.
 */
export function keepFairTurns(queue: Queue, client: () => RedisClient, isFair?: () => Promise<boolean>): void {
  if (backlogOf.has(queue)) return;
  const keys = fairKeys(queue.opts.prefix ?? 'bull', queue.name);
  backlogOf.set(queue, isFair ? { keys, client, isFair } : { keys, client });
  Object.defineProperty(queue, 'Job', { get: () => FairJob, configurable: true });
  const promoteAll = queue.promoteJobs.bind(queue);
  queue.promoteJobs = async (opts) => (!isFair || (await isFair()) ? promoteCallerDelayedJobs(queue, client(), opts) : promoteAll(opts));
}

/**
 * {@link keepFairTurns} for a BullMQ `Queue` opened by name on a queue that may be fair (the
 * dashboard's job board, an operator's tool): whether it is fair is read from Redis when it
 * matters (its fair sequence key exists once a job was ever held); on a plain queue everything
 * stays BullMQ's.
 */
export function guardHeldJobs(queue: Queue, client: () => RedisClient): void {
  const seq = fairKeys(queue.opts.prefix ?? 'bull', queue.name).seq;
  keepFairTurns(queue, client, async () => (await client().exists(seq)) === 1);
}

/** Reads and clears the fair backlog of one queue (the jobs held for the fair dispatcher). */
export interface FairBacklog {
  /** Jobs held for the fair dispatcher. */
  count(): Promise<number>;
  /** A job of the queue by id, as a {@link FairJob}; `undefined` when BullMQ does not have it. */
  get<T>(queue: Queue, id: string): Promise<FairJob<T> | undefined>;
  /** Removes every pending job with BullMQ's job removal (tenant by tenant); returns how many. */
  drain(queue: Queue): Promise<number>;
  /** Deletes every key of the fair scheduler of this queue (leases and rate logs included). */
  obliterate(): Promise<void>;
  /** A {@link FairJob} for a job just enqueued. */
  job<T>(queue: Queue, name: string, data: T, opts: Job['opts'], id: string): FairJob<T>;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The backlog of the fair queue with keys `keys`, on the producer connection `client()`. */
export function fairBacklog(keys: FairKeys, client: () => RedisClient): FairBacklog {
  return {
    async count() {
      return client().zcount(keys.delayed, heldFloor(), '+inf');
    },
    async get<T>(queue: Queue, id: string) {
      return (await FairJob.fromId(queue, id)) as FairJob<T> | undefined;
    },
    async drain(queue) {
      const redis = client();
      let removed = 0;
      // Tenant by tenant (their pending sets are KEYS of the script), until none is left. Each job
      // leaves BullMQ first, so the dispatcher skips it if it comes first; then its pending entry.
      // A tenant with more than a chunk pending stays listed and comes round again; the bound only
      // stops a drain racing producers that refill the backlog for ever.
      for (let round = 0; round < 100_000; round++) {
        const tenants = [...new Set([...(await redis.zrange(keys.ready, '0', '99')), ...(await redis.zrange(keys.blocked, '0', '99'))])];
        if (tenants.length === 0) break;
        const args: Array<string | number> = [];
        for (const tenant of tenants) {
          // A bounded chunk per tenant and round: a backlog of millions is removed in steps, not
          // read into one array and removed by millions of calls in flight at once.
          const ids = await redis.zrange(keys.pending(tenant), '0', String(DRAIN_CHUNK - 1));
          for (let at = 0; at < ids.length; at += DRAIN_REMOVES_IN_FLIGHT) {
            await Promise.all(ids.slice(at, at + DRAIN_REMOVES_IN_FLIGHT).map((id) => queue.remove(id)));
          }
          args.push(tenant, ids.length, ...ids);
        }
        removed += await runWithTenantKeys(
          fairScripts.drain,
          redis,
          [keys.ready, keys.blocked, keys.pass, keys.cfg],
          tenants.map((t) => keys.pending(t)),
          args,
        );
      }
      return removed;
    },
    async obliterate() {
      // On a cluster every key found shares the queue's hash tag, so one UNLINK takes a batch.
      await scanKeys(client(), `${escapeGlob(keys.tenantPrefix)}*`, async (found, node) => {
        await node.unlink(...found);
      });
    },
    job(queue, name, data, opts, id) {
      return new FairJob(queue, name, data, opts, id);
    },
  };
}
