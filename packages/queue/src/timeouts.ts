import { InvalidArgumentError, checkMs } from '@platform/redis';
import type { Job } from 'bullmq';
import { JobTimeoutError } from './errors';

/**
 * Time limits of a job, counted from the moment a worker starts its handler (each attempt anew).
 * Set per queue (`defineQueue({ timeouts })`) or per job (`enqueue(payload, { timeouts })`, which
 * replaces the queue's).
 */
export interface JobTimeouts {
  /**
   * After this many ms the handler's `signal` aborts with a {@link JobTimeoutError} (`limit:
   * 'soft'`) and the job's log says so; the handler should wrap up and return or throw.
   * @defaultValue `undefined`: no soft limit
   */
  softMs?: number;
  /**
   * After this many ms the job fails with a {@link JobTimeoutError} (`limit: 'hard'`) whether or not
   * the handler has returned: the attempt is spent, the worker's slot is free for the next job, and
   * the signal aborts (so locks linked to it are released). A handler that ignores its signal keeps
   * running in the background of the process; run such code as a sandboxed processor.
   * @defaultValue `undefined`: no hard limit
   */
  hardMs?: number;
}

/** Checks a `timeouts` option: integers in ms, `softMs` below `hardMs`. Returns a copy, or `undefined`. */
export function checkTimeouts(argument: string, value: unknown): JobTimeouts | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, 'must be an object { softMs?, hardMs? }');
  }
  const { softMs, hardMs } = value as JobTimeouts;
  const result: JobTimeouts = {};
  if (softMs !== undefined) result.softMs = checkMs(`${argument}.softMs`, softMs, 1);
  if (hardMs !== undefined) result.hardMs = checkMs(`${argument}.hardMs`, hardMs, 1);
  if (result.softMs !== undefined && result.hardMs !== undefined && result.softMs >= result.hardMs) {
    throw new InvalidArgumentError(argument, `softMs (${result.softMs}) must be below hardMs (${result.hardMs})`);
  }
  return result;
}

/** The limits of a job: its own `opts.timeouts` when set, else the queue's. */
export function timeoutsOf(job: Job, queueTimeouts: JobTimeouts | undefined): JobTimeouts | undefined {
  const own = (job.opts as { timeouts?: JobTimeouts }).timeouts;
  return own ?? queueTimeouts;
}

/**
 * Runs `fn(signal)` under the job's limits. The signal aborts when `outer` does (BullMQ's signal),
 * at the soft limit (reason: a soft {@link JobTimeoutError}, logged to the job) and at the hard
 * limit, where the returned promise rejects with a hard {@link JobTimeoutError} even if `fn` never
 * settles (a later rejection of `fn` is ignored). `onLimit` is told of each limit reached. Without
 * limits, `fn` gets `outer` itself: no controller, timer or listener per job. With `abortOuter`
 * (BullMQ's `worker.cancelJob`, which aborts the job's own signal with a reason), `fn` gets `outer`
 * too and the limits abort it: no second controller or listener per job.
 */
export function runWithTimeouts<R>(
  queueName: string,
  job: Job,
  limits: JobTimeouts | undefined,
  outer: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<R>,
  onLimit?: (reason: JobTimeoutError) => void,
  abortOuter?: (reason: JobTimeoutError) => boolean,
): Promise<R> {
  if (limits?.softMs === undefined && limits?.hardMs === undefined) return fn(outer ?? new AbortController().signal);
  let signal: AbortSignal;
  let abort: (reason: JobTimeoutError) => void;
  let cleanupOuter: (() => void) | undefined;
  if (outer && abortOuter && !outer.aborted) {
    signal = outer;
    abort = (reason) => void abortOuter(reason);
  } else {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    cleanupOuter = () => outer?.removeEventListener('abort', onOuterAbort);
    signal = controller.signal;
    abort = (reason) => controller.abort(reason);
  }
  const log = (message: string) => void job.log(message).catch(() => undefined);

  let softTimer: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  const cleanup = (): void => {
    clearTimeout(softTimer);
    clearTimeout(hardTimer);
    cleanupOuter?.();
  };
  if (limits.softMs !== undefined) {
    const softMs = limits.softMs;
    softTimer = setTimeout(() => {
      const reason = new JobTimeoutError(queueName, job.id, 'soft', softMs);
      log(`${reason.message}: signal aborted`);
      onLimit?.(reason);
      abort(reason);
    }, softMs);
  }
  const hardMs = limits.hardMs;
  // One promise, settled by the handler or by the hard limit, whichever comes first (no race, no async frame).
  return new Promise<R>((resolve, reject) => {
    if (hardMs !== undefined) {
      hardTimer = setTimeout(() => {
        const error = new JobTimeoutError(queueName, job.id, 'hard', hardMs);
        log(`${error.message}: job failed`);
        onLimit?.(error);
        abort(error);
        cleanup();
        reject(error);
      }, hardMs);
    }
    let running: Promise<R>;
    try {
      running = fn(signal);
    } catch (error) {
      cleanup();
      reject(error);
      return;
    }
    running.then(
      (result) => {
        cleanup();
        resolve(result);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
