import { Job, type JobsOptions, type Queue, type Worker } from 'bullmq';
import type { ScriptClient } from '@platform/redis';
import { fairKeys, type FairKeys } from './keys';
import { encodeTenantSettings, type ResolvedFairness } from './options';
import { fairScripts } from './scripts';

/** An unconfirmed hand-out (its adder died between the dispatch script and `queue.add`) is redone after this. */
export const FAIR_INFLIGHT_TIMEOUT_MS = 30_000;
/** A job that must wait for a tenant slot is re-delayed by at most this much at a time. */
const MAX_SLOT_WAIT_MS = 1000;
/** Highest BullMQ priority. */
const MAX_PRIORITY = 2 ** 21 - 1;

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

/** The fair scheduler of one queue definition (internal; reached through the definition). */
export interface FairScheduler {
  readonly keys: FairKeys;
  readonly settings: ResolvedFairness;
  /** Puts jobs into their tenants' pending sets (one script call), then releases some if the window has room. */
  enqueue(entries: readonly FairEntry[]): Promise<Job[]>;
  /** Runs dispatch steps until the window is full or nothing is eligible; single-flight. */
  pump(): Promise<void>;
  /** Wraps a worker handler with the slot/rate check, lease refresh and release. */
  wrapHandler<J extends Job, C extends { tenantId: string }, R>(handler: (job: J, ctx: C) => Promise<R>): (job: J, ctx: C) => Promise<R>;
  /** Dispatches on the worker's job events and every `pollMs` until it closes. */
  attach(worker: Worker, onError: (error: Error) => void): void;
  /** Waits for a running dispatch step. */
  idle(): Promise<void>;
}

/** Thrown by a wrapped handler when the tenant has no free slot or rate: the worker re-delays the job (no attempt spent). */
class TenantBusyError extends Error {
  readonly delayJob = true;
  readonly deferralReason = 'tenant-busy';
  constructor(readonly retryAfterMs: number) {
    super(`tenant at its maxActivePerTenant or rate; retry in ${retryAfterMs} ms`);
  }
}

export function createFairScheduler(params: {
  queueName: string;
  prefix: string;
  settings: ResolvedFairness;
  getQueue: () => Queue;
  /** The producer connection the queue uses. */
  getClient: () => ScriptClient;
  defaultJobOptions: JobsOptions;
}): FairScheduler {
  const { queueName, prefix, settings, getQueue, getClient, defaultJobOptions } = params;
  const keys = fairKeys(prefix, queueName);
  const client = async (): Promise<ScriptClient> => getClient();

  let running: Promise<void> | undefined;
  let again = false;

  const releaseLease = async (jobId: string, tenantId: string): Promise<void> => {
    await fairScripts.release.run(await client(), [keys.leases(tenantId), keys.blocked, keys.ready, keys.pass], [jobId, tenantId]);
  };

  /** One dispatch step: returns how many jobs were handed to BullMQ. */
  const dispatchOnce = async (): Promise<number> => {
    const redis = await client();
    const reply = await fairScripts.dispatch.run(
      redis,
      [keys.ready, keys.blocked, keys.pass, keys.cfg, keys.jobs, keys.inflight, keys.dedup, keys.jobDedup, keys.wait, keys.paused, keys.prioritized],
      [keys.tenantPrefix, settings.window, FAIR_INFLIGHT_TIMEOUT_MS, settings.leaseMs, settings.window],
    );
    if (reply.length === 0) return 0;
    const queue = getQueue();
    const added: string[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: reply.length / 2 }, async (_, i) => {
        const id = reply[2 * i] as string;
        const stored = JSON.parse(reply[2 * i + 1] as string) as StoredJob;
        const job = await queue.add(stored.name as never, stored.data as never, { ...stored.opts, jobId: id });
        added.push(id);
        // Deduplicated by BullMQ (another job with its deduplication id is there): it holds no slot.
        if (job.id !== id) await releaseLease(id, stored.data.tenantId);
      }),
    );
    // Jobs whose add failed stay in flight and are handed out again after FAIR_INFLIGHT_TIMEOUT_MS.
    if (added.length > 0) await fairScripts.confirm.run(redis, [keys.inflight, keys.jobs], added);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    return added.length;
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
          while ((await dispatchOnce()) >= settings.window) {
            // a full batch: there may be room for more
          }
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    keys,
    settings,
    async enqueue(entries) {
      const queue = getQueue();
      const now = Date.now();
      const args: Array<string | number> = [keys.tenantPrefix, settings.window, entries.length];
      const stored: StoredJob[] = [];
      for (const { name, data, opts } of entries) {
        const { jobId, ...rest } = opts ?? {};
        // The job keeps its enqueue time as BullMQ's timestamp, so waiting times stay honest.
        const jobOpts: JobsOptions = { ...rest, timestamp: rest.timestamp ?? now };
        const priority = Math.min(Math.max(Math.trunc(jobOpts.priority ?? 0), 0), MAX_PRIORITY);
        const job: StoredJob = { name, data, opts: jobOpts };
        stored.push(job);
        args.push(
          data.tenantId,
          encodeTenantSettings(settings.tenant(data.tenantId)),
          jobId ?? '',
          priority,
          jobOpts.deduplication?.id ?? '',
          JSON.stringify(job),
        );
      }
      const reply = await fairScripts.enqueue.run(
        await client(),
        [keys.ready, keys.blocked, keys.pass, keys.cfg, keys.jobs, keys.seq, keys.dedup, keys.jobDedup, keys.wait, keys.paused, keys.prioritized, keys.inflight],
        args,
      );
      if (Number(reply[0]) > 0) void pump().catch(() => undefined);
      return stored.map((s, i) => {
        const id = String(reply[1 + 2 * i]);
        return new Job(queue, s.name, s.data, { ...defaultJobOptions, ...s.opts, jobId: id }, id);
      });
    },
    pump,
    wrapHandler(handler) {
      return async (job, ctx) => {
        const tenant = settings.tenant(ctx.tenantId);
        const jobId = job.id;
        if (!jobId || (tenant.maxActive === 0 && tenant.rateMax === 0)) return handler(job, ctx);
        const redis = await client();
        const waitMs = await fairScripts.acquire.run(
          redis,
          [keys.leases(ctx.tenantId), keys.rateLog(ctx.tenantId)],
          [jobId, settings.leaseMs, tenant.maxActive, tenant.rateMax, tenant.rateDurationMs],
        );
        if (waitMs > 0) throw new TenantBusyError(Math.min(waitMs, MAX_SLOT_WAIT_MS));
        const refresh = setInterval(() => {
          void fairScripts.refresh.run(redis, [keys.leases(ctx.tenantId)], [jobId, settings.leaseMs]).catch(() => undefined);
        }, Math.max(Math.floor(settings.leaseMs / 3), 10));
        try {
          return await handler(job, ctx);
        } finally {
          clearInterval(refresh);
          // A freed slot may unblock the tenant: dispatch at once rather than at the next poll.
          if (tenant.maxActive > 0) {
            await releaseLease(jobId, ctx.tenantId).catch(() => undefined);
            void pump().catch(() => undefined);
          }
        }
      };
    },
    attach(worker, onError) {
      let closed = false;
      const trigger = (): void => {
        if (closed) return;
        pump().catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))));
      };
      // Refill in batches: a dispatch step after every quarter window of starts (not after each
      // one) costs few round trips per job and still keeps the window from running dry.
      const batch = Math.max(1, Math.floor(settings.window / 4));
      let started = 0;
      const onActive = (): void => {
        if (++started < batch) return;
        started = 0;
        trigger();
      };
      const timer = setInterval(trigger, settings.pollMs);
      timer.unref();
      worker.on('active', onActive);
      worker.on('drained', trigger);
      const stop = (): void => {
        closed = true;
        clearInterval(timer);
      };
      worker.on('closing', stop);
      worker.on('closed', stop);
      trigger();
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
