import { closeConnection, getSharedConnection, isDeferral, type RedisClient } from '@platform/redis';
import { DelayedError, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { poolSlotsOf, type QueueDefinition } from './define-queue';
import { PayloadValidationError } from './errors';
import { withoutHold } from './fairness/hold';
import { queueSlotConnection } from './slot';
import { fairSchedulerOf } from './fairness/scheduler';
import { DEFAULT_MAX_STALLED_COUNT, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './options';
import { createStatsRecorder, forEachAttemptIncrement } from './job-stats';
import { resolveLogger, throttledErrorLog, type Logger } from '@platform/telemetry';
import { withPools } from './pools/pool';
import { createSandboxedWorker } from './sandbox';
import { recordDeferral, timeLimitReporter, traceAttempt } from './telemetry';
import { LazyJobSignal, runWithTimeouts, timeoutsOf } from './timeouts';
import type { AnyObjectSchema, TenantPayload } from './payload';

/** What a handler gets besides the job. */
export interface JobContext {
  /** The job's tenant (validated). */
  tenantId: string;
  /** The worker's lock token for this job (needed by BullMQ calls such as `job.moveToDelayed`). */
  token: string | undefined;
  /**
   * Fires when the worker is force-closed (`worker.close(true)`, or `shutdownTimeoutMs` over on
   * SIGTERM; reason: `'worker force-closed'`), the job is cancelled (`worker.cancelJob`), or the job
   * reaches its soft or hard time limit (reason: a `JobTimeoutError`). Pass it to
   * `withLock`/`activityLock` (`{ signal }`) so their locks are released when it fires.
   */
  signal: AbortSignal;
}

/** A job handler: `job.data` is the validated payload. */
export type JobHandler<S extends AnyObjectSchema, R = unknown> = (
  job: Job<TenantPayload<S>, R>,
  context: JobContext,
) => Promise<R>;

/** Options of {@link createWorker}: BullMQ's worker options plus the platform's. */
export interface CreateWorkerOptions extends Omit<WorkerOptions, 'connection' | 'prefix' | 'autorun'> {
  /** Worker connection (role `worker`). @defaultValue the process-wide shared `worker` connection */
  connection?: RedisClient;
  /** Close gracefully on SIGTERM and SIGINT. @defaultValue `true` */
  handleSignals?: boolean;
  /**
   * On SIGTERM/SIGINT, how long active jobs may finish before the worker is force-closed: their
   * signals abort, and BullMQ's stalled-job check later hands them to another worker. @defaultValue `30000`
   */
  shutdownTimeoutMs?: number;
  /** Start fetching jobs at once. @defaultValue `true` */
  autorun?: boolean;
  /**
   * Times the stalled-job check returns a job whose worker died while running it, before failing it.
   * @defaultValue `3` (BullMQ's default is 1)
   */
  maxStalledCount?: number;
  /**
   * Called with worker errors (lost connection, failed lock renewal). BullMQ retries on its own;
   * this is for logging. @defaultValue an `error` line on `logger`, at most once per 30 s per worker
   */
  onError?: (error: Error) => void;
  /**
   * Record each job's wait and run time and outcome (completed, failed attempt, failed for good,
   * deferred by reason) per tenant in Redis, where `@platform/ops` and the CLI read them. Buffered
   * and written by one unawaited script call every 100 ms and when the worker closes. @defaultValue `true`
   */
  recordStats?: boolean;
  /**
   * Where the worker logs (pino's shape); lines carry `queue`, and `tenantId`, `jobId` and the trace
   * id where known. @defaultValue the logger of `configureTelemetry`, else JSON lines on stderr
   */
  logger?: Logger;
}

/** Live workers: their shutdown timeout and a wait for their running attempts to settle. */
const liveWorkers = new Map<Worker, { timeoutMs: number; idle: () => Promise<void> }>();
/** Where a handler context keeps the abort side of its signal (the time limits abort it): a symbol, not a WeakMap entry per job. */
const JOB_SIGNAL = Symbol('jobSignal');
/** Where an attempt's outcome waits for BullMQ to move its job (then it is counted): a symbol, not a WeakMap entry per job. */
const ATTEMPT_OUTCOME = Symbol('attemptOutcome');
type JobWithOutcome = Job & {
  [ATTEMPT_OUTCOME]?: Pick<Job, 'timestamp' | 'attemptsMade' | 'opts'> & { tenantId: string; startedAt: number; endedAt: number; outcome: { error?: unknown } };
};
type ContextWithSignal = JobContext & { [JOB_SIGNAL]?: LazyJobSignal };
let signalsInstalled = false;

/**
 * Stops taking jobs, lets the active ones finish for up to `timeoutMs`, then closes: gracefully if
 * they did, else by force (their signals abort). Not `close()` then `close(true)`: once BullMQ's
 * worker is closing, `close(true)` answers the graceful close's promise, which waits for every
 * active job, for ever if one hangs. `pause()` waits for the same jobs, and `idle` covers a worker
 * paused before (whose `pause()` answers at once).
 */
async function closeWithTimeout(worker: Worker, timeoutMs: number, idle: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const drained = worker.pause().catch(() => undefined).then(idle).then(() => true);
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const finished = await Promise.race([drained, timedOut]);
  clearTimeout(timer);
  // Jobs still active after the timeout are left locked; BullMQ's stalled-job check hands them
  // to another worker once the lock expires, so nothing is lost.
  await worker.close(!finished);
}

function onSignal(signal: NodeJS.Signals): void {
  const workers = [...liveWorkers.entries()];
  void Promise.allSettled(workers.map(([worker, { timeoutMs, idle }]) => closeWithTimeout(worker, timeoutMs, idle))).then(() => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    signalsInstalled = false;
    // When nobody else handles the signal, end the process as the signal would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/**
 * Starts a BullMQ worker for a queue definition. The payload is validated again on consume: an
 * invalid one fails the job at once (no retries) with the issues in `failedReason`. A handler that
 * throws a deferral (`isDeferral(error)` from `@platform/redis`: `delayJob: true` and a finite
 * `retryAfterMs >= 0`, e.g. `RateLimitError`, a busy activity lock, `DeferJobError`) has its job
 * delayed by `retryAfterMs` without spending an attempt, with no bound of its own (BullMQ's
 * `maxStartedAttempts` option bounds the runs, deferred or not). No error is recognised by its name.
 * Jobs run under their time limits (`timeouts`): the handler's signal aborts at the soft limit, and
 * at the hard limit the job fails with `JobTimeoutError` and the worker takes its next job.
 *
 * `handler` may instead be the path (or file URL) of a BullMQ sandboxed processor file (`module.exports
 * = async (job, token, signal) => ...`), run in a child process (or a worker thread with
 * `useWorkerThreads`). The payload is still validated here, deferrals and time limits apply, and at
 * the hard limit the child running the job is killed, so a handler stuck in a loop is stopped too.
 * Closes gracefully on SIGTERM/SIGINT, letting active jobs finish up to `shutdownTimeoutMs`.
 *
 * @example
 * const worker = createWorker(blogWriter, async (job, { tenantId }) => writePost(tenantId, job.data.topic));
 */
export function createWorker<S extends AnyObjectSchema, R = unknown>(
  definition: QueueDefinition<S>,
  handler: JobHandler<S, R> | string | URL,
  options: CreateWorkerOptions = {},
): Worker<TenantPayload<S>, R> {
  const {
    connection,
    handleSignals = true,
    shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS,
    logger: loggerOption,
    onError: onErrorOption,
    recordStats = true,
    ...workerOptions
  } = options;
  const logger = resolveLogger(loggerOption);
  const onError = onErrorOption ?? throttledErrorLog(logger, { queue: definition.name, component: 'worker' });
  const workerConnection = connection ?? getSharedConnection('worker');
  // On a cluster BullMQ's worker talks to the queue's master over a connection of its own (see
  // defineQueue); closed with the worker. Statistics keep the Cluster client (flushed at close).
  const slotConnection = queueSlotConnection(workerConnection, definition.settings.prefix, definition.name, 'worker');
  const stats = recordStats ? createStatsRecorder(() => workerConnection, definition.settings.prefix, definition.name) : undefined;
  type Counted = Pick<Job, 'timestamp' | 'attemptsMade' | 'opts'>;
  const record = (job: Counted, tenantId: string, startedAt: number, outcome: { error?: unknown }, now = Date.now()): void => {
    if (!stats) return;
    forEachAttemptIncrement(job, startedAt, now, outcome, (series, by) => stats.increment(tenantId, series, by, now));
  };
  // A completed or failed attempt is counted once BullMQ has moved its job (its 'completed' and
  // 'failed' events): one that lost its lock is not, as the stalled-job check runs the job again.
  // The job as it was when the attempt ended (BullMQ's move adds to its attemptsMade).
  const recordWhenMoved = (job: Job, tenantId: string, startedAt: number, outcome: { error?: unknown }): void => {
    if (!stats) return;
    (job as JobWithOutcome)[ATTEMPT_OUTCOME] = { tenantId, startedAt, endedAt: Date.now(), outcome, timestamp: job.timestamp, attemptsMade: job.attemptsMade, opts: job.opts };
  };
  const recordMoved = (job: Job | undefined): void => {
    const pending = (job as JobWithOutcome | undefined)?.[ATTEMPT_OUTCOME];
    if (!pending) return;
    (job as JobWithOutcome)[ATTEMPT_OUTCOME] = undefined;
    record(pending, pending.tenantId, pending.startedAt, pending.outcome, pending.endedAt);
  };

  // Fair queues: slot/rate check and lease around the handler, dispatch loop in `attach`.
  const fair = fairSchedulerOf(definition);
  const makeProcessor = (jobHandler: JobHandler<S, R>) => {
    // Time limits inside the fair lease, so a job failed at its hard limit gives its slot back.
    const limited = (job: Job<TenantPayload<S>, R>, context: JobContext): Promise<R> => {
      const limits = timeoutsOf(job, definition.settings.timeouts);
      const jobSignal = limits ? (context as ContextWithSignal)[JOB_SIGNAL] : undefined;
      if (!limits || !jobSignal) return jobHandler(job, context);
      return runWithTimeouts(
        definition.name,
        job,
        limits,
        (reason) => (reason.limit === 'hard' ? jobSignal.reachHardLimit(reason) : jobSignal.abort(reason)),
        () => jobHandler(job, context),
        timeLimitReporter(logger, { queue: definition.name, jobId: job.id, tenantId: context.tenantId }),
      );
    };
    // Pool slots inside the tenant's slot: a job deferred for a full pool gives its tenant slot back.
    const pooled = withPools(poolSlotsOf(definition), limited);
    const run = fair ? fair.wrapHandler(pooled) : pooled;

    const attempt = async (job: Job<TenantPayload<S>, R>, token?: string): Promise<R> => {
      const startedAt = Date.now();
      // A fair job was added held: its handler and its wait time see the options it was enqueued with.
      if (fair) withoutHold(job);
      let data: TenantPayload<S>;
      try {
        data = definition.parse(job.data);
      } catch (error) {
        if (!(error instanceof PayloadValidationError)) throw error;
        const invalid = new UnrecoverableError(error.message);
        const raw = (job.data as { tenantId?: unknown } | undefined)?.tenantId;
        recordWhenMoved(job, typeof raw === 'string' && /^[A-Za-z0-9_.@-]{1,128}$/.test(raw) ? raw : 'unknown', startedAt, { error: invalid });
        throw invalid;
      }
      job.data = data;
      // The job's signal: aborted by the time limits and by worker.cancelJob / cancelAllJobs, and
      // created only if the handler (or a sandbox) reads it.
      const jobSignal = new LazyJobSignal();
      const context: ContextWithSignal = {
        tenantId: data.tenantId,
        token,
        get signal() {
          return jobSignal.signal;
        },
        [JOB_SIGNAL]: jobSignal,
      };
      const id = job.id;
      if (id !== undefined) activeSignals.set(id, jobSignal);
      running++;
      try {
        const result = await run(job, context);
        recordWhenMoved(job, data.tenantId, startedAt, {});
        return result;
      } catch (thrown) {
        // BullMQ reads `message` and `name` of what a processor throws: an undefined or null would
        // break its failure handling (the job left active for the stalled-job check), a string or
        // number would fail the job without a reason.
        const error = typeof thrown === 'object' && thrown !== null ? thrown : new Error(String(thrown));
        const deferred = isDeferral(error) && token !== undefined;
        // Force-closed: a handler that honoured its aborted signal must not fail its job (for good on
        // its last attempt). DelayedError makes BullMQ leave the job active and locked for the
        // stalled-job check, as documented; the attempt did not end, so it is not counted.
        if (!deferred && jobSignal.isForceClosed) throw new DelayedError();
        if (isDeferral(error) && token) {
          recordDeferral(error.deferralReason, error.retryAfterMs);
          try {
            await job.moveToDelayed(Date.now() + Math.max(error.retryAfterMs, 1), token);
          } catch (moveError) {
            recordWhenMoved(job, data.tenantId, startedAt, { error: moveError });
            throw moveError;
          }
          record(job, data.tenantId, startedAt, { error });
          throw new DelayedError();
        }
        recordWhenMoved(job, data.tenantId, startedAt, { error });
        throw error;
      } finally {
        if (id !== undefined && activeSignals.get(id) === jobSignal) activeSignals.delete(id);
        if (--running === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      }
    };
    // One span per attempt when tracing is on (see telemetry.ts). Two parameters on purpose: BullMQ
    // creates an AbortController per job only for a processor declaring a third (the signal).
    return (job: Job<TenantPayload<S>, R>, token?: string): Promise<R> => traceAttempt(definition.name, job, () => attempt(job, token));
  };
  // The jobs' signals this worker runs, by job id, for cancelJob / cancelAllJobs.
  const activeSignals = new Map<string, LazyJobSignal>();
  // Attempts running now, and who waits for none to be (the shutdown).
  let running = 0;
  const idleWaiters: Array<() => void> = [];
  const idle = (): Promise<void> => (running === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve)));

  const bullOptions = {
    concurrency: 1,
    ...workerOptions,
    maxStalledCount: workerOptions.maxStalledCount ?? DEFAULT_MAX_STALLED_COUNT,
    connection: slotConnection ?? workerConnection,
    prefix: definition.settings.prefix,
  };
  const worker =
    typeof handler === 'function'
      ? new Worker<TenantPayload<S>, R>(definition.name, makeProcessor(handler), bullOptions)
      : createSandboxedWorker<TenantPayload<S>, R>(
          definition.name,
          handler,
          (runner) =>
            makeProcessor(
              (job, context) =>
                runner(
                  job,
                  context.token,
                  context.signal,
                  (listener) => (context as ContextWithSignal)[JOB_SIGNAL]?.onHardLimit(listener),
                  (listener) => (context as ContextWithSignal)[JOB_SIGNAL]?.onForceClose(listener),
                ) as Promise<R>,
            ) as never,
          bullOptions,
        );
  // BullMQ's cancelJob / cancelAllJobs abort the controllers it creates for processors taking a
  // signal; ours takes none (see makeProcessor), so they abort the jobs' own signals instead.
  worker.cancelJob = (jobId: string, reason?: string): boolean => {
    const jobSignal = activeSignals.get(jobId);
    jobSignal?.abort(reason);
    return jobSignal !== undefined;
  };
  worker.cancelAllJobs = (reason?: string): void => {
    for (const jobSignal of activeSignals.values()) jobSignal.abort(reason);
  };
  // A force close aborts the running jobs' signals (BullMQ's aborts only the controllers it makes
  // for processors taking a signal), so their handlers, locks and requests can stop, and kills the
  // children of sandboxed jobs, also those whose signal a soft limit or a cancel aborted before.
  const close = worker.close.bind(worker);
  worker.close = (force = false): Promise<void> => {
    if (force) for (const jobSignal of activeSignals.values()) jobSignal.forceClose();
    return close(force);
  };
  // Without a listener, an 'error' event (e.g. Redis down) would crash the process.
  worker.on('error', onError);
  if (stats) {
    worker.on('completed', recordMoved);
    worker.on('failed', recordMoved);
  }
  fair?.attach(worker as unknown as Worker, onError);
  liveWorkers.set(worker, { timeoutMs: shutdownTimeoutMs, idle });
  worker.on('closed', () => {
    liveWorkers.delete(worker);
    void stats?.flush();
    if (slotConnection) void closeConnection(slotConnection);
  });
  if (handleSignals) installSignalHandlers();
  return worker;
}
