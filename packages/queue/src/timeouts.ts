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
   * running in the background of the process, also while the job's retry runs (the job then runs
   * twice at once); run such code as a sandboxed processor.
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
 * Runs `run()` under the job's limits: at the soft limit `abort` is called with a soft
 * {@link JobTimeoutError} (logged to the job), and at the hard limit with a hard one, where the
 * returned promise rejects with it even if `run` never settles (a later rejection of `run` is
 * ignored). `onLimit` is told of each limit reached. The caller owns the signal `abort` aborts (the
 * worker's lazily created signal of the job), so this adds no controller or listener per job.
 */
export function runWithTimeouts<R>(
  queueName: string,
  job: Job,
  limits: JobTimeouts | undefined,
  abort: (reason: JobTimeoutError) => void,
  run: () => Promise<R>,
  onLimit?: (reason: JobTimeoutError) => void,
): Promise<R> {
  if (limits?.softMs === undefined && limits?.hardMs === undefined) return run();
  const log = (message: string) => void job.log(message).catch(() => undefined);
  const { softMs, hardMs } = limits;
  // One timer at a time: the soft limit's, which arms the hard limit's for the time left (most
  // jobs end before either, and pay for one timer, not two).
  let timer: NodeJS.Timeout | undefined;
  const cleanup = (): void => clearTimeout(timer);
  // One promise, settled by the handler or by the hard limit, whichever comes first (no race, no async frame).
  return new Promise<R>((resolve, reject) => {
    const armHard = (limitMs: number, inMs: number): void => {
      timer = setTimeout(() => {
        const error = new JobTimeoutError(queueName, job.id, 'hard', limitMs);
        log(`${error.message}: job failed`);
        onLimit?.(error);
        abort(error);
        reject(error);
      }, inMs);
    };
    if (softMs !== undefined && (hardMs === undefined || softMs < hardMs)) {
      timer = setTimeout(() => {
        const reason = new JobTimeoutError(queueName, job.id, 'soft', softMs);
        log(`${reason.message}: signal aborted`);
        onLimit?.(reason);
        abort(reason);
        if (hardMs !== undefined) armHard(hardMs, hardMs - softMs);
      }, softMs);
    } else if (hardMs !== undefined) {
      armHard(hardMs, hardMs);
    }
    let running: Promise<R>;
    try {
      running = run();
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

/** The reason a job's signal carries when its worker is force-closed (`worker.close(true)`, or the end of `shutdownTimeoutMs`). */
export const FORCE_CLOSED_REASON = 'worker force-closed';

/**
 * The signal of one job, created only when something reads it (most handlers never do, and an
 * `AbortController` per job is a measurable share of a short job's cost). An abort before the first
 * read is remembered: the signal is then born aborted, with the same reason.
 */
export class LazyJobSignal {
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (the first call wins, as with `AbortController`). */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  private hardLimit: JobTimeoutError | undefined;
  private hardLimitListener: ((reason: JobTimeoutError) => void) | undefined;

  /**
   * The job reached its hard limit: aborts the signal (a no-op when the soft limit aborted it
   * already, whose reason the signal keeps) and tells the {@link onHardLimit} listener, which an
   * aborted signal alone cannot (it aborts once).
   */
  reachHardLimit(reason: JobTimeoutError): void {
    this.abort(reason);
    if (this.hardLimit) return;
    this.hardLimit = reason;
    this.hardLimitListener?.(reason);
  }

  /** Calls `listener` at the hard limit (at once when it was reached already); one listener per job. */
  onHardLimit(listener: (reason: JobTimeoutError) => void): void {
    if (this.hardLimit) listener(this.hardLimit);
    else this.hardLimitListener = listener;
  }

  private forceClosed = false;
  private forceCloseListener: (() => void) | undefined;

  /**
   * The worker is force-closed: aborts the signal with {@link FORCE_CLOSED_REASON} (a no-op when
   * the soft limit or a cancel aborted it already, whose reason the signal keeps) and tells the
   * {@link onForceClose} listener, which an aborted signal alone cannot.
   */
  forceClose(): void {
    this.abort(FORCE_CLOSED_REASON);
    if (this.forceClosed) return;
    this.forceClosed = true;
    this.forceCloseListener?.();
  }

  /** Whether the worker was force-closed while the job ran. */
  get isForceClosed(): boolean {
    return this.forceClosed;
  }

  /** Calls `listener` when the worker is force-closed (at once when it was already); one listener per job. */
  onForceClose(listener: () => void): void {
    if (this.forceClosed) listener();
    else this.forceCloseListener = listener;
  }
}
