import { randomUUID } from 'node:crypto';
import { DeferJobError, type ScriptClient, type RedisClient } from '@platform/redis';
import { Job, type JobsOptions, type Queue, type Worker } from 'bullmq';
import { TenantBacklogFullError } from '../errors';
import { createControlsCache, type ControlsCache } from './controls-cache';
import { fairKeys, fairRegistryKey, type FairKeys } from './keys';
import { encodeTenantSettings, type ResolvedFairness } from './options';
import { poolMember, type PoolSlots } from '../pools/slots';
import { fairScripts, runWithTenantKeys } from './scripts';
import { HELD_DELAY_MS, holdAndRecord, markNothingWritten } from './hold';

/** Job ids the scheduler gives jobs enqueued without one: a per-process prefix and a counter. */
const idPrefix = `f${randomUUID().replace(/-/g, '').slice(0, 12)}.`;
let idCounter = 0;
/** A job that must wait for a tenant slot is re-delayed by at most this much at a time. */
const MAX_SLOT_WAIT_MS = 1000;
/** Highest BullMQ priority. */
const MAX_PRIORITY = 2 ** 21 - 1;
/** Most jobs one dispatch step hands out. */
const MAX_PER_STEP = 64;
/**
 * Candidate tenants named to each dispatch step (3 keys each). With many tenants a step releases at
 * most one job per candidate, and each step's socket write costs more than its keys do.
 */
const CANDIDATES = 64;
/** How often a worker renews its registration (concurrency) and how long one lives. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TTL_MS = 5000;

/** A job to enqueue fairly. */
export interface FairEntry {
  name: string;
  data: { tenantId: string };
  opts: JobsOptions | undefined;
}


/** Makes the `Job` object an enqueue answers (a FairJob from the producer). */
export type MakeJob = (queue: Queue, name: string, data: { tenantId: string }, opts: JobsOptions, id: string) => Job;

/** The fair scheduler of one queue definition (internal; reached through the definition). */
export interface FairScheduler {
  readonly queueName: string;
  readonly keys: FairKeys;
  readonly settings: ResolvedFairness;
  /** The producer connection of the queue. */
  client(): RedisClient;
  /** Adds the queue to the fair-queue registry of its prefix (once per process). */
  register(): Promise<void>;
  /** Puts jobs into their tenants' pending sets (one script call), then releases some if the window has room. */
  /**
   * Adds jobs held and records them pending (one MULTI), then releases some if the window has room.
   * Answers one job per entry, made by `makeJob`, with its final id (the first job's for a
   * deduplicated twin) and its options without the hold.
   */
  enqueue(entries: readonly FairEntry[], makeJob?: MakeJob): Promise<Job[]>;
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
  let firstRead: Promise<void> | undefined;
  const firstControlsRead = (): Promise<void> =>
    (firstRead ??= controls.refresh().catch(() => {
      firstRead = undefined;
    }));

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
    keys.ready, keys.blocked, keys.pass, keys.cfg, keys.ctl, keys.workers, keys.workerConcurrency, keys.wait, keys.paused,
    keys.prioritized, keys.delayed, keys.meta, keys.active, keys.pc, keys.events, keys.marker,
  ];
  const handOutPools = params.dispatchPools && poolSlots ? poolSlots.pools : [];
  const poolKeys = handOutPools.map((p) => p.key);
  const poolArgs = [keys.jobPrefix, handOutPools.length, ...handOutPools.flatMap((p) => [p.max, p.perTenant ?? 0, p.leaseMs])];

  /** One dispatch step: releases held jobs into BullMQ; answers whether another step may find more room. */
  const dispatchOnce = async (): Promise<boolean> => {
    const named = candidates;
    const [released, next, more] = await runWithTenantKeys(
      fairScripts.dispatch,
      await client(),
      dispatchKeys,
      [...poolKeys, ...named.flatMap((t) => [keys.pending(t), keys.leases(t), keys.rateLog(t)])],
      [settings.window, queueName, settings.leaseMs, MAX_PER_STEP, CANDIDATES, ...poolArgs, ...named],
    );
    candidates = next;
    // A step that stopped at a tenant it was not told about is repeated with the new candidates.
    return Number(more) === 1 && (Number(released) > 0 || next.some((t) => !named.includes(t)));
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
    keys.ready, keys.blocked, keys.pass, keys.cfg, keys.seq, keys.wait, keys.paused, keys.prioritized,
    keys.ctl, keys.workers, keys.workerConcurrency, keys.delayed, keys.events,
  ];

  return {
    queueName,
    keys,
    settings,
    client: getClient,
    register,
    async enqueue(entries, makeJob = (queue, name, data, opts, id) => new Job(queue, name, data, opts, id)) {
      const queue = getQueue();
      const now = Date.now();
      const tenants = new Map<string, number>();
      const tenantArgs: string[] = [];
      const jobKeys: string[] = [];
      const jobArgs: Array<string | number> = [];
      const held: Job[] = [];
      const userOpts: JobsOptions[] = [];
      try {
        for (const { name, data, opts } of entries) {
          let index = tenants.get(data.tenantId);
          if (index === undefined) {
            index = tenants.size + 1;
            tenants.set(data.tenantId, index);
            tenantArgs.push(data.tenantId, encodeTenantSettings(settings.tenant(data.tenantId)));
          }
          const id = opts?.jobId ?? `${idPrefix}${(++idCounter).toString(36)}`;
          // The job keeps its enqueue time as BullMQ's timestamp, so waiting times stay honest.
          const jobOpts: JobsOptions = { ...defaultJobOptions, ...opts, jobId: id, timestamp: opts?.timestamp ?? now };
          const priority = Math.min(Math.max(Math.trunc(jobOpts.priority ?? 0), 0), MAX_PRIORITY);
          const dedupId = jobOpts.deduplication?.id;
          const jobKey = queue.toKey(id);
          jobKeys.push(jobKey, dedupId ? `${keys.jobPrefix}de:${dedupId}` : jobKey);
          jobArgs.push(index, id, priority, dedupId ? 1 : 0, jobOpts.timestamp!);
          userOpts.push(jobOpts);
          held.push(makeJob(queue, name, data, { ...jobOpts, delay: HELD_DELAY_MS }, id));
        }
      } catch (error) {
        // Building an entry failed (a per-tenant settings function threw, say): nothing was sent.
        markNothingWritten(error);
        throw error;
      }
      void register().catch(() => undefined);
      const params = [
        enqueueKeys.length + tenants.size + jobKeys.length,
        ...enqueueKeys,
        ...[...tenants.keys()].map((t) => keys.pending(t)),
        ...jobKeys,
        settings.window,
        tenants.size,
        ...tenantArgs,
        entries.length,
        ...jobArgs,
        CANDIDATES,
        HELD_DELAY_MS,
      ];
      const { ids, reply } = await holdAndRecord(queue, held, params, await client());
      const answer = reply as Array<string | number | string[]>;
      if (answer[0] === 'full') {
        throw new TenantBacklogFullError(queueName, String(answer[1]), Number(answer[2]), Number(answer[3]));
      }
      if (!running) candidates = answer[1] as string[];
      if (Number(answer[0]) > 0) void pump().catch(() => undefined);
      // BullMQ's answer is the job's id, or the first job's for a deduplicated twin.
      return held.map((job, i) => {
        const id = ids[i]!;
        if (id !== job.id) return makeJob(queue, job.name, job.data as { tenantId: string }, { ...userOpts[i]!, jobId: id }, id);
        // The object BullMQ's add serialised (with the hold) is answered with the caller's options.
        job.opts = userOpts[i]!;
        job.delay = userOpts[i]!.delay as number;
        return job;
      });
    },
    pump,
    wrapHandler(handler) {
      return async (job, ctx) => {
        const tenant = settings.tenant(ctx.tenantId);
        const jobId = job.id;
        // Fast path: no limit in the code and no runtime control known for the tenant (the cache
        // follows Redis within pollMs), so no script call. A worker that just started reads the
        // controls first (a paused tenant's released jobs may be waiting for it); if that read
        // fails, the script checks.
        if (!jobId) return handler(job, ctx);
        if (controls.version() === undefined) await firstControlsRead();
        if (tenant.maxActive === 0 && tenant.rateMax === 0 && controls.version() !== undefined && !controls.has(ctx.tenantId)) {
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
        // A retry counts against the rate again; a first attempt under the entry of its hand-out.
        const rateEntry = job.attemptsMade > 0 ? `${jobId}|${job.attemptsMade}` : jobId;
        const [code, waitMs] = await fairScripts.acquire.run(
          redis,
          [keys.leases(ctx.tenantId), keys.rateLog(ctx.tenantId), keys.ctl],
          [jobId, settings.leaseMs, ctx.tenantId, encodeTenantSettings(tenant), rateEntry],
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
        const redis = await client();
        const sentAt = Date.now();
        const [, redisNow] = await fairScripts.heartbeat.run(redis, [keys.workers, keys.workerConcurrency], [workerId, concurrency, HEARTBEAT_TTL_MS]);
        poolSlots?.observeRedisClock(Number(redisNow), sentAt, Date.now());
      };
      const beat = (): void => {
        if (closed) return;
        heartbeat(Math.max(1, worker.concurrency)).catch(report);
      };
      // Refill in batches: a dispatch step after every quarter window of starts (a fixed window, or
      // this worker's share of the default window, twice its concurrency) costs few round trips per
      // job and keeps the window filled.
      let started = 0;
      const onActive = (): void => {
        if (++started < Math.max(1, Math.floor((settings.window || 2 * worker.concurrency) / 4))) return;
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
