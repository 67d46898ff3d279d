import type { DefaultJobOptions } from 'bullmq';
import { TENANT_AUDIT_DEFAULTS } from './fairness/controls';
import { defaultFairnessOptions } from './fairness/options';
import { POOL_DEFAULTS } from './pools/pool';

/** Seconds in a day: completed jobs are kept one day, failed jobs seven. */
const DAY_SECONDS = 86_400;

/**
 * Job defaults of every platform queue; each can be overridden per queue (`defaultJobOptions`)
 * or per job.
 * - completed jobs are kept 24 h, failed jobs 7 days (for inspection and replay);
 * - 3 attempts with exponential backoff from 1 s (1 s, 2 s) with jitter.
 */
export const defaultJobOptions: Readonly<DefaultJobOptions> = Object.freeze({
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: DAY_SECONDS },
  removeOnFail: { age: 7 * DAY_SECONDS },
});

/** Default of `maxPayloadBytes`: 512 KiB of JSON. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;

/** Default of `enqueueTimeoutMs`: how long `enqueue` may wait for Redis before it rejects. */
export const DEFAULT_ENQUEUE_TIMEOUT_MS = 5000;

/** Default of `waitForReplicas.timeoutMs`: how long an enqueue waits for its replicas. */
export const DEFAULT_REPLICA_WAIT_TIMEOUT_MS = 1000;

/**
 * Default of a worker's `maxStalledCount` (BullMQ's is 1): how many times the stalled-job check
 * returns a job whose worker died while running it before the job is failed as a likely poison job.
 * With 1, a job caught by two worker crashes in a row (a crash-looping deploy, an OOM-killed pod
 * restarted next to another) ends in `failed`; the fault suite's worker-crash scenario hit that.
 */
export const DEFAULT_MAX_STALLED_COUNT = 3;

/** Default of `shutdownTimeoutMs`: how long a graceful close waits for active jobs. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** Time limits of the catalog's agent jobs (`agentQueue`) unless `timeouts` is given: soft 3,000 s, hard 3,600 s. */
export const AGENT_JOB_TIMEOUTS: Readonly<{ softMs: number; hardMs: number }> = Object.freeze({ softMs: 3_000_000, hardMs: 3_600_000 });

/** The defaults of `defineQueue` and `createWorker` options in one place (see each option's TSDoc). */
export const queueDefaults = Object.freeze({
  /** `defineQueue({ maxPayloadBytes })`. */
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  /** `defineQueue({ enqueueTimeoutMs })`. */
  enqueueTimeoutMs: DEFAULT_ENQUEUE_TIMEOUT_MS,
  /** `defineQueue({ waitForReplicas: { timeoutMs } })`. */
  replicaWaitTimeoutMs: DEFAULT_REPLICA_WAIT_TIMEOUT_MS,
  /** `createWorker(..., { shutdownTimeoutMs })`. */
  shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
  /** `createWorker(..., { maxStalledCount })`. */
  maxStalledCount: DEFAULT_MAX_STALLED_COUNT,
  /** `agentQueue(role, { timeouts })`: soft 3,000 s, hard 3,600 s. */
  agentJobTimeouts: AGENT_JOB_TIMEOUTS,
  /** `defineQueue({ fairness })`. */
  fairness: defaultFairnessOptions,
  /** The audit stream of tenant controls, per fair queue: `maxLen` entries (approximate cap), kept `ttlMs` after the last change. */
  tenantAudit: TENANT_AUDIT_DEFAULTS,
  /** `defineConcurrencyPool({ leaseMs })`. */
  concurrencyPool: POOL_DEFAULTS,
});
