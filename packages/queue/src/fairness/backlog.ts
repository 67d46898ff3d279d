import { Job, type JobState, type Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { scanKeys } from '@platform/redis/internal';
import type { FairKeys } from './keys';
import { fairScripts, runWithTenantKeys } from './scripts';

/** The state of a job on a fair queue: BullMQ's, or `pending` while it waits in the fair backlog. */
export type FairJobState = JobState | 'pending' | 'unknown';

/** Whether `id` waits in the fair backlog: stored and not yet handed to BullMQ. */
async function isPending(client: RedisClient, keys: FairKeys, id: string): Promise<boolean> {
  const replies = (await client.multi().hexists(keys.jobs, id).zscore(keys.inflight, id).exec()) ?? [];
  const [exists, inflight] = replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  return exists === 1 && inflight === null;
}

interface BacklogRef {
  client: () => RedisClient;
  keys: FairKeys;
}

const backlogOf = new WeakMap<object, BacklogRef>();

/**
 * A job of a fair queue. `getState()` is BullMQ's once the job was handed to BullMQ, and
 * `'pending'` while it waits in the fair backlog (BullMQ alone would say `'unknown'`).
 */
export class FairJob<T = unknown> extends Job<T> {
  constructor(queue: Queue, name: string, data: T, opts: Job['opts'], id: string, backlog: BacklogRef) {
    super(queue as never, name, data, opts, id);
    // Kept off the instance, so a serialised job (BullMQ's toJSON copies own fields) shows no keys.
    backlogOf.set(this, backlog);
  }

  // BullMQ's JobState has no 'pending'; callers of a fair queue's jobs see it (see FairJobState).
  override async getState(): Promise<JobState | 'unknown'> {
    const state = await super.getState();
    const backlog = backlogOf.get(this);
    if (state !== 'unknown' || !this.id || !backlog) return state;
    // The stored copy is removed only after BullMQ has the job, so "not in BullMQ, still stored"
    // read in this order means pending.
    const pending = await isPending(backlog.client(), backlog.keys, this.id);
    return pending ? ('pending' as FairJobState as JobState) : 'unknown';
  }
}

/** Reads and clears the fair backlog of one queue (the jobs BullMQ does not know yet). */
export interface FairBacklog {
  /** Jobs pending in the backlog (stored, not handed to BullMQ). */
  count(): Promise<number>;
  /** A pending job by id, as a {@link FairJob}; `undefined` when it is not pending. */
  get<T>(queue: Queue, id: string): Promise<FairJob<T> | undefined>;
  /** Removes every pending job (one script per 100 tenants); returns how many. */
  drain(): Promise<number>;
  /** Deletes every key of the fair scheduler of this queue (leases and rate logs included). */
  obliterate(): Promise<void>;
  /** A {@link FairJob} for a job just put into the backlog. */
  job<T>(queue: Queue, name: string, data: T, opts: Job['opts'], id: string): FairJob<T>;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The backlog of the fair queue with keys `keys`, on the producer connection `client()`. */
export function fairBacklog(keys: FairKeys, client: () => RedisClient): FairBacklog {
  const backlog = { client, keys };
  return {
    async count() {
      const replies = (await client().multi().hlen(keys.jobs).zcard(keys.inflight).exec()) ?? [];
      const [stored, inflight] = replies.map(([error, value]) => {
        if (error) throw error;
        return Number(value);
      });
      return Math.max(0, (stored ?? 0) - (inflight ?? 0));
    },
    async get<T>(queue: Queue, id: string) {
      const redis = client();
      const json = await redis.hget(keys.jobs, id);
      if (json === null || !(await isPending(redis, keys, id))) return undefined;
      const stored = JSON.parse(json) as { name: string; data: T; opts: Job['opts'] };
      return new FairJob<T>(queue, stored.name, stored.data, { ...stored.opts, jobId: id }, id, backlog);
    },
    async drain() {
      const redis = client();
      let removed = 0;
      // Tenant by tenant (their pending sets are KEYS of the script), until none is left.
      for (let round = 0; round < 10_000; round++) {
        const tenants = [...new Set([...(await redis.zrange(keys.ready, '0', '99')), ...(await redis.zrange(keys.blocked, '0', '99'))])];
        if (tenants.length === 0) break;
        removed += await runWithTenantKeys(
          fairScripts.drain,
          redis,
          [keys.ready, keys.blocked, keys.pass, keys.cfg, keys.jobs, keys.inflight, keys.dedup, keys.jobDedup],
          tenants.map((t) => keys.pending(t)),
          tenants,
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
      return new FairJob(queue, name, data, opts, id, backlog);
    },
  };
}
