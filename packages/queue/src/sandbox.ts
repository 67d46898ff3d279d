import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import { JobTimeoutError } from './errors';
import { lendAttemptContext } from './telemetry';
import { FORCE_CLOSED_REASON } from './timeouts';

/** What BullMQ's child pool gives out: a child process or worker thread running the processor file. */
interface PoolChild {
  readonly pid?: number;
}

/** The parts of BullMQ's (private) `ChildPool` used here. */
interface ChildPoolLike {
  retain(processFile: string): Promise<PoolChild>;
  kill(child: PoolChild, signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs the sandboxed processor for one job; the child running it is killed at the job's hard limit,
 * which `onHardLimit` reports (also after the soft limit aborted the signal first), and when the
 * worker is force-closed, which `onForceClose` reports (also after the signal was aborted before).
 */
export type SandboxRunner = (
  job: Job,
  token: string | undefined,
  signal: AbortSignal,
  onHardLimit: (listener: (reason: JobTimeoutError) => void) => void,
  onForceClose: (listener: () => void) => void,
) => Promise<unknown>;

type WrapSandbox = (runner: SandboxRunner) => Processor;

// Set just before `new SandboxedWorker(...)`: BullMQ calls createSandbox from its constructor,
// before a subclass could have stored anything of its own.
let pendingWrap: WrapSandbox | undefined;

/**
 * A BullMQ `Worker` for a processor file (BullMQ's sandboxed processors: a child process, or a
 * worker thread with `useWorkerThreads`). BullMQ only sends a sandboxed job a cancel message when
 * its signal aborts, which a child stuck in a loop never reads; here, when the signal aborts with a
 * hard {@link JobTimeoutError}, the child running the job is killed (SIGKILL) and the pool forks a
 * fresh one for the next job. The child is found by hooking the pool's `retain`, which BullMQ's
 * sandbox calls synchronously when a job starts.
 */
class SandboxedWorker<D, R> extends Worker<D, R> {
  protected override createSandbox(processor: Parameters<Worker['createSandbox']>[0]): void {
    super.createSandbox(processor);
    const wrap = pendingWrap;
    if (!wrap) throw new Error('SandboxedWorker: created outside createSandboxedWorker');
    const sandboxed = (this as unknown as { processFn: Processor }).processFn;
    const pool = (this as unknown as { childPool: ChildPoolLike }).childPool;
    const retain = pool.retain.bind(pool);
    let claim: ((child: PoolChild) => void) | undefined;
    pool.retain = async (processFile) => {
      const take = claim;
      claim = undefined;
      const child = await retain(processFile);
      take?.(child);
      return child;
    };

    const runner: SandboxRunner = (job, token, signal, onHardLimit, onForceClose) => {
      let child: PoolChild | undefined;
      let killed = false;
      let stopRequested = false;
      // The hard limit and a force close of the worker stop the child at once (BullMQ's own close
      // sends its children SIGTERM, which a child stuck in a loop never handles, then waits 30 s).
      const stopsChild = () =>
        (signal.reason instanceof JobTimeoutError && signal.reason.limit === 'hard') || signal.reason === FORCE_CLOSED_REASON;
      // Runs inside the attempt's span (see traceAttempt): the child gets its context.
      const lent = lendAttemptContext(job);
      const kill = () => {
        if (killed || !child) return;
        killed = true;
        lent.noteKilled(child.pid);
        void pool.kill(child, 'SIGKILL').catch(() => undefined);
      };
      claim = (retained) => {
        child = retained;
        if (stopRequested) kill();
      };
      // The signal aborts once: after a soft limit (or a cancel) it keeps that reason, so the hard
      // limit and a force close come through these listeners.
      const stop = () => {
        stopRequested = true;
        kill();
      };
      onHardLimit(stop);
      onForceClose(stop);
      // BullMQ's sandbox sends the child a cancel message when the signal it gets aborts, without
      // handling that send's rejection: where the child is killed, it would race the kill (an
      // unhandled EPIPE). So the child's signal follows every abort but those.
      const forChild = new AbortController();
      const onAbort = () => (stopsChild() ? kill() : forChild.abort(signal.reason));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      try {
        return (sandboxed as (job: Job, token?: string, signal?: AbortSignal) => Promise<unknown>)(job, token, forChild.signal).finally(lent.restore);
      } catch (error) {
        lent.restore();
        throw error;
      } finally {
        claim = undefined;
      }
    };
    (this as unknown as { processFn: Processor }).processFn = wrap(runner);
  }
}

/** A BullMQ worker running `processorFile` sandboxed, through `wrap` (validation, limits, deferrals). */
export function createSandboxedWorker<D, R>(
  queueName: string,
  processorFile: string | URL,
  wrap: WrapSandbox,
  options: WorkerOptions,
): Worker<D, R> {
  pendingWrap = wrap;
  try {
    return new SandboxedWorker<D, R>(queueName, processorFile, options);
  } finally {
    pendingWrap = undefined;
  }
}
