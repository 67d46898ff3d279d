import { randomUUID } from 'node:crypto';
import { DeferJobError, type ScriptClient, type RedisClient } from '@platform/redis';
import type { Job, JobsOptions, Queue, Worker } from 'bullmq';
import { TenantBacklogFullError } from '../errors';
import { createControlsCache, type ControlsCache } from './controls-cache';
import { fairKeys, fairRegistryKey, type FairKeys } from './keys';
import { encodeTenantSettings, type ResolvedFairness } from './options';
import { POOL_HANDOUT_OPTION, poolMember, type PoolSlots } from '../pools/slots';
import { fairScripts, runWithTenantKeys } from './scripts';

/** An unconfirmed hand-out (its adder died between the dispatch script and `queue.add`) is redone after this. */
export const FAIR_INFLIGHT_TIMEOUT_MS = 30_000;
/** A job that must wait for a tenant slot is re-delayed by at most this much at a time. */
const MAX_SLOT_WAIT_MS = 1000;
/** Highest BullMQ priority. */
const MAX_PRIORITY = 2 ** 21 - 1;
/** Most jobs one dispatch step hands out. */
const MAX_PER_STEP = 64;
/** Candidate tenants named to each dispatch step (3 keys each). */
const CANDIDATES = 16;
/** How often a worker renews its registration (concurrency) and how long one lives. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TTL_MS = 5000;

/** A job to enqueue fairly. */
export interface FairEntry {
  name: string;
  data: { tenantId: string };
  opts: JobsOptions | undefined;
}

interface StoredJob {
  name: string;
  data: { tenantId: string };
  opts: JobsOptions;
}

/** A job {@link FairScheduler.enqueue} put into the backlog: its id, and its options with the queue's defaults. */
export interface FairAdded {
  name: string;
  data: { tenantId: string };
  opts: JobsOptions;
  id: string;
}

/** The fair scheduler of one queue definition (internal; reached through the definition). */
export interface FairScheduler {
  readonly queueName: string;
  readonly keys: FairKeys;
  readonly settings: ResolvedFairness;
  /** The producer connection of the queue. */
  client(): RedisClient;
  /** Adds the queue to the fair-queue registry of its prefix (once per process). */
  register(): Promise<void>;
  /**
   * Puts jobs into their tenants' pending sets (one script call), then releases some if the window
   * has room. Resolves to what the producer needs to build each job's object (once: a BullMQ `Job`
   * costs a few microseconds to construct).
   */
  enqueue(entries: readonly FairEntry[]): Promise<FairAdded[]>;
  /** Runs dispatch steps until the window is full or nothing is eligible; single-flight. */
  pump(): Promise<void>;
  /** Wraps a worker handler with the pause/slot/rate check, lease refresh and release. */
  wrapHandler<J extends Job, C extends { tenantId: string }, R>(handler: (job: J, ctx: C) => Promise<R>): (job: J, ctx: C) => Promise<R>;
  /** Dispatches on the worker's job events and every `pollMs`, and heartbeats its concurrency, until it closes. */
  attach(worker: Worker, onError: (error: Error) => void): void;
  /** Waits for a running dispatch step. */
  idle(): Promise<void>;
}

export function createFairScheduler(params: {
  queueName: string;
  prefix: string;
  /** The base prefix whose fair-queue registry lists the queue (the queue's prefix without its cluster hash tag). */
  registryPrefix: string;
  settings: ResolvedFairness;
  getQueue: () => Queue;
  /** The producer connection the queue uses. */
  getClient: () => RedisClient;
  defaultJobOptions: JobsOptions;
  /** The pool slots of the queue's jobs, when it joined pools. */
  poolSlots?: PoolSlots | undefined;
  /** Whether the dispatch script may take pool slots at hand-out (every pool key reachable from the queue's slot). */
  dispatchPools?: boolean;
}): FairScheduler {
  const { queueName, prefix, registryPrefix, settings, getQueue, getClient, defaultJobOptions, poolSlots } = params;
  const keys = fairKeys(prefix, queueName);
  const client = async (): Promise<ScriptClient & RedisClient> => getClient();
  const controls: ControlsCache = createControlsCache(keys, getClient);

  let running: Promise<void> | undefined;
  let again = false;
  let candidates: string[] = [];
  let registered: Promise<void> | undefined;
  // Jobs started on the fast path (no script) since the last controls refresh, with the view they
  // started under. A control set just before may have given such a job a slot at hand-out that
  // nobody would release: the next refresh finds it and releases it.
  let fastStarts: Array<{ jobId: string; tenantId: string; version: string | null | undefined; done: boolean }> = [];
  const releaseAtEnd = new Set<string>();

  const register = (): Promise<void> => {
    registered ??= getClient()
      .sadd(fairRegistryKey(registryPrefix), queueName)
      .then(() => undefined)
      .catch((error: unknown) => {
        registered = undefined;
        throw error;
      });
    return registered;
  };

  const releaseLease = async (jobId: string, tenantId: string): Promise<void> => {
    await fairScripts.release.run(await client(), [keys.leases(tenantId), keys.blocked, keys.ready, keys.pass], [jobId, tenantId]);
  };

  const dispatchKeys = [
    keys.ready, keys.blocked, keys.pass, keys.cfg, keys.jobs, keys.inflight, keys.dedup, keys.jobDedup,
    keys.wait, keys.paused, keys.prioritized, keys.ctl, keys.workers, keys.workerConcurrency,
  ];
  const handOutPools = params.dispatchPools && poolSlots ? poolSlots.pools : [];
  const poolKeys = handOutPools.map((p) => p.key);
  const poolArgs = [queueName, handOutPools.length, ...handOutPools.flatMap((p) => [p.max, p.perTenant ?? 0, p.leaseMs])];

  /** One dispatch step: hands jobs to BullMQ; answers whether another step may find more room. */
  const dispatchOnce = async (): Promise<boolean> => {
    const redis = await client();
    const named = candidates;
    // Before the call: slots the script takes expire no earlier than leaseMs after this.
    const sentAt = Date.now();
    const [reply, next, more] = await runWithTenantKeys(
      fairScripts.dispatch,
      redis,
      dispatchKeys,
      [...poolKeys, ...named.flatMap((t) => [keys.pending(t), keys.leases(t), keys.rateLog(t)])],
      [settings.window, FAIR_INFLIGHT_TIMEOUT_MS, settings.leaseMs, MAX_PER_STEP, CANDIDATES, ...poolArgs, ...named],
    );
    candidates = next;
    if (reply.length > 0) {
      const queue = getQueue();
      const added: string[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: reply.length / 3 }, async (_, i) => {
          const id = String(reply[3 * i]);
          const stored = JSON.parse(String(reply[3 * i + 1])) as StoredJob;
          const pooled = Number(reply[3 * i + 2]) === 1;
          const opts: JobsOptions = { ...stored.opts, jobId: id };
          // Kept by BullMQ with the job's options (unknown ones pass through), read at its first start.
          if (pooled) (opts as Record<string, unknown>)[POOL_HANDOUT_OPTION] = sentAt;
          const job = await queue.add(stored.name as never, stored.data as never, opts);
          added.push(id);
          // Deduplicated by BullMQ (another job with its deduplication id is there): it holds no slot.
          if (job.id !== id) {
            await releaseLease(id, stored.data.tenantId);
            if (pooled) await poolSlots?.release(poolMember(stored.data.tenantId, queueName, id));
          }
        }),
      );
      // Jobs whose add failed stay in flight and are handed out again after FAIR_INFLIGHT_TIMEOUT_MS.
      if (added.length > 0) await fairScripts.confirm.run(redis, [keys.inflight, keys.jobs], added);
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    }
    // A step that stopped at a tenant it was not told about is repeated with the new candidates.
    return Number(more) === 1 && (reply.length > 0 || next.some((t) => !named.includes(t)));
  };

  const pump = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          while (await dispatchOnce()) {
            // more room or more candidates: step again
          }
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const enqueueKeys = [
    keys.ready, keys.blocked, keys.pass, keys.cfg, keys.jobs, keys.seq, keys.dedup, keys.jobDedup,
    keys.wait, keys.paused, keys.prioritized, keys.inflight, keys.ctl, keys.workers, keys.workerConcurrency,
  ];

  return {
    queueName,
    keys,
    settings,
    client: getClient,
    register,
    async enqueue(entries) {
      // The BullMQ Queue exists (its connection checks under way) before the dispatch that follows
      // this call adds jobs to it.
      getQueue();
      const now = Date.now();
      const tenants = new Map<string, number>();
      const tenantArgs: string[] = [];
      const jobArgs: Array<string | number> = [];
      const stored: StoredJob[] = [];
      for (const { name, data, opts } of entries) {
        let index = tenants.get(data.tenantId);
        if (index === undefined) {
          index = tenants.size + 1;
          tenants.set(data.tenantId, index);
          tenantArgs.push(data.tenantId, encodeTenantSettings(settings.tenant(data.tenantId)));
        }
        const { jobId, ...rest } = opts ?? {};
        // The job keeps its enqueue time as BullMQ's timestamp, so waiting times stay honest.
        const jobOpts: JobsOptions = { ...rest, timestamp: rest.timestamp ?? now };
        const priority = Math.min(Math.max(Math.trunc(jobOpts.priority ?? 0), 0), MAX_PRIORITY);
        const job: StoredJob = { name, data, opts: jobOpts };
        stored.push(job);
        jobArgs.push(index, jobId ?? '', priority, jobOpts.deduplication?.id ?? '', JSON.stringify(job));
      }
      void register().catch(() => undefined);
      const reply = await runWithTenantKeys(
        fairScripts.enqueue,
        await client(),
        enqueueKeys,
        [...tenants.keys()].map((t) => keys.pending(t)),
        [settings.window, tenants.size, ...tenantArgs, entries.length, ...jobArgs, CANDIDATES],
      );
      if (reply[0] === 'full') {
        throw new TenantBacklogFullError(queueName, String(reply[1]), Number(reply[2]), Number(reply[3]));
      }
      if (!running) candidates = reply[1] as unknown as string[];
      if (Number(reply[0]) > 0) void pump().catch(() => undefined);
      return stored.map((s, i) => {
        const id = String(reply[2 + 2 * i]);
        return { name: s.name, data: s.data, opts: { ...defaultJobOptions, ...s.opts, jobId: id }, id };
      });
    },
    pump,
    wrapHandler(handler) {
      return async (job, ctx) => {
        const tenant = settings.tenant(ctx.tenantId);
        const jobId = job.id;
        // Fast path: no limit in the code and no runtime control known for the tenant (the cache
        // follows Redis within pollMs), so no script call.
        if (!jobId) return handler(job, ctx);
        if (tenant.maxActive === 0 && tenant.rateMax === 0 && !controls.has(ctx.tenantId)) {
          const start = { jobId, tenantId: ctx.tenantId, version: controls.version(), done: false };
          fastStarts.push(start);
          try {
            return await handler(job, ctx);
          } finally {
            start.done = true;
            if (releaseAtEnd.delete(jobId)) await releaseLease(jobId, ctx.tenantId).catch(() => undefined);
          }
        }
        const redis = await client();
        const [code, waitMs] = await fairScripts.acquire.run(
          redis,
          [keys.leases(ctx.tenantId), keys.rateLog(ctx.tenantId), keys.ctl],
          [jobId, settings.leaseMs, ctx.tenantId, encodeTenantSettings(tenant)],
        );
        if (code === 2 || code === 3) {
          // The job does not run now: pool slots it took at hand-out go back at once.
          if (poolSlots?.handedOut(job)) await poolSlots.release(poolMember(ctx.tenantId, queueName, jobId));
          if (code === 3) throw new DeferJobError(Math.min(waitMs, MAX_SLOT_WAIT_MS), 'tenant-paused', `tenant ${ctx.tenantId} is paused`);
          throw new DeferJobError(Math.min(waitMs, MAX_SLOT_WAIT_MS), 'tenant-busy', `tenant ${ctx.tenantId} is at its maxActive or rate`);
        }
        if (code !== 1) return handler(job, ctx);
        const refresh = setInterval(() => {
          void fairScripts.refresh.run(redis, [keys.leases(ctx.tenantId)], [jobId, settings.leaseMs]).catch(() => undefined);
        }, Math.max(Math.floor(settings.leaseMs / 3), 10));
        try {
          return await handler(job, ctx);
        } finally {
          clearInterval(refresh);
          // A freed slot may unblock the tenant: dispatch at once rather than at the next poll.
          await releaseLease(jobId, ctx.tenantId).catch(() => undefined);
          void pump().catch(() => undefined);
        }
      };
    },
    attach(worker, onError) {
      let closed = false;
      const report = (error: unknown): void => onError(error instanceof Error ? error : new Error(String(error)));
      const trigger = (): void => {
        if (closed) return;
        pump().catch(report);
      };
      const workerId = randomUUID();
      const heartbeat = async (concurrency: number): Promise<void> => {
        await fairScripts.heartbeat.run(await client(), [keys.workers, keys.workerConcurrency], [workerId, concurrency, HEARTBEAT_TTL_MS]);
      };
      const beat = (): void => {
        if (closed) return;
        heartbeat(Math.max(1, worker.concurrency)).catch(report);
      };
      // Refill in batches: a dispatch step after every quarter window of starts (a fixed window, or
      // this worker's concurrency when the window follows the workers) costs few round trips per
      // job and keeps the window filled.
      let started = 0;
      const onActive = (): void => {
        if (++started < Math.max(1, Math.floor((settings.window || worker.concurrency) / 4))) return;
        started = 0;
        trigger();
      };
      const refreshControls = async (): Promise<void> => {
        const started = fastStarts;
        fastStarts = [];
        await controls.refresh().catch((error: unknown) => {
          fastStarts = [...started, ...fastStarts];
          throw error;
        });
        for (const start of started) {
          if (start.version === controls.version() || !controls.has(start.tenantId)) continue;
          if (start.done) await releaseLease(start.jobId, start.tenantId);
          else releaseAtEnd.add(start.jobId);
        }
      };
      const timer = setInterval(() => {
        refreshControls().catch(report);
        trigger();
      }, settings.pollMs);
      timer.unref();
      const heartbeatTimer = setInterval(beat, HEARTBEAT_MS);
      heartbeatTimer.unref();
      worker.on('active', onActive);
      worker.on('drained', trigger);
      const stop = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        clearInterval(heartbeatTimer);
        void heartbeat(0).catch(() => undefined);
      };
      worker.on('closing', stop);
      worker.on('closed', stop);
      void register().catch(report);
      // Registered before the first step, so the window already counts this worker.
      void heartbeat(Math.max(1, worker.concurrency))
        .catch(report)
        .then(() => refreshControls())
        .catch(report)
        .finally(trigger);
    },
    async idle() {
      while (running) await running.catch(() => undefined);
    },
  };
}

const schedulers = new WeakMap<object, FairScheduler>();

/** Links a queue definition to its scheduler (kept off the public `QueueDefinition` type). */
export function registerFairScheduler(definition: object, scheduler: FairScheduler): void {
  schedulers.set(definition, scheduler);
}

/** The scheduler of a definition defined with `fairness: 'per-tenant'`, else `undefined`. */
export function fairSchedulerOf(definition: object): FairScheduler | undefined {
  return schedulers.get(definition);
}
