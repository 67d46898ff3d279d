import { InvalidArgumentError } from '@platform/redis';
import type { Job, JobsOptions, Queue } from 'bullmq';

/** One job to add: BullMQ's name, the validated data and BullMQ's job options. */
export interface JobEntry<T> {
  name: string;
  data: T;
  opts: JobsOptions | undefined;
}

/**
 * Job counts of a queue: BullMQ's states (`waiting` without prioritized jobs, as BullMQ counts)
 * plus `pending`, the jobs of a fair queue still in its backlog (always `0` on a plain queue).
 */
export type QueueJobCounts = Record<
  'active' | 'completed' | 'delayed' | 'failed' | 'prioritized' | 'waiting' | 'waiting-children' | 'pending',
  number
>;

/** Options of `obliterate`. */
export interface ObliterateOptions {
  /** Obliterate even with active jobs (BullMQ's `force`). @defaultValue `false` */
  force?: boolean;
}

/**
 * How a queue definition writes and reads its jobs, chosen once by `defineQueue`: straight into
 * BullMQ ({@link plainProducer}), or through the fair scheduler's backlog (`fairProducer`).
 */
export interface Producer<T> {
  add(job: JobEntry<T>): Promise<Job<T>>;
  /** Adds the jobs in order; see `QueueDefinition.enqueueBulk` for what is atomic. */
  addBulk(jobs: readonly JobEntry<T>[]): Promise<Job<T>[]>;
  counts(): Promise<QueueJobCounts>;
  getJob(id: string): Promise<Job<T> | undefined>;
  drain(delayed: boolean): Promise<void>;
  obliterate(options: ObliterateOptions): Promise<void>;
  /** Waits for work in progress (a fair dispatch step). */
  idle(): Promise<void>;
}

const BULLMQ_STATES = ['active', 'completed', 'delayed', 'failed', 'prioritized', 'waiting', 'waiting-children'] as const;

/** BullMQ's counts of every state, plus `pending`. */
export async function countJobs(queue: Queue, pending: number): Promise<QueueJobCounts> {
  const counts = await queue.getJobCounts(...BULLMQ_STATES);
  const result = { pending } as QueueJobCounts;
  for (const state of BULLMQ_STATES) result[state] = counts[state] ?? 0;
  return result;
}

/** Plain BullMQ: every job goes straight into the queue. */
export function plainProducer<T>(getQueue: () => Queue<T>): Producer<T> {
  // The casts are sound: BullMQ's add() types its name parameter through a conditional type.
  return {
    add: ({ name, data, opts }) =>
      (getQueue().add(name as never, data as never, opts) as Promise<Job<T>>).catch((error: unknown) => {
        // BullMQ's refusal of a child whose parent is missing ('Missing key for parent job <key>. addJob').
        const parentKey = error instanceof Error ? /^Missing key for parent job (\S+)\. /.exec(error.message)?.[1] : undefined;
        throw parentKey === undefined ? error : addRefusedError(PARENT_MISSING, parentKey, error);
      }),
    addBulk: (jobs) => addAllOrNone(getQueue() as Queue, jobs) as Promise<Job<T>[]>,
    counts: () => countJobs(getQueue() as Queue, 0),
    getJob: async (id) => (await getQueue().getJob(id)) ?? undefined,
    drain: (delayed) => getQueue().drain(delayed),
    obliterate: (options) => getQueue().obliterate(options),
    idle: async () => undefined,
  };
}

/**
 * Adds jobs to a queue in one MULTI, as BullMQ's `queue.addBulk` does but all or none: BullMQ 6's
 * `addBulk` sends one pipeline, in which each job is a script of its own, so Redis refusing writes
 * part-way (`maxmemory` reached, a lost connection) left the first jobs written while the call
 * rejected. The jobs get the queue's default options and ids as with `addBulk`.
 */
export async function addAllOrNone<T>(queue: Queue, jobs: readonly JobEntry<T>[]): Promise<Job[]> {
  // The queue's own Job class, as `addBulk` uses (a fair queue's hands out FairJobs).
  const JobClass = (queue as unknown as { Job: typeof Job }).Job;
  const added = jobs.map(({ name, data, opts }) => new JobClass(queue, name, data, { ...queue.jobsOpts, ...opts, jobId: opts?.jobId }, opts?.jobId));
  // The parent options `addBulk` passes (a job with `opts.parent` joins its parent's dependencies).
  const entries = added.map((job) => job.toFlowEntry({ parentKey: job.parentKey, parentDependenciesKey: job.parentKey ? `${job.parentKey}:dependencies` : undefined }));
  const results = await queue.backend.addFlow(entries);
  results.forEach(([error, id], i) => {
    if (error) throw error;
    // A negative number is a BullMQ error code (its scripts' answer to an impossible add).
    if (typeof id === 'number' && id < 0) throw addRefusedError(id, added[i]!.parentKey);
    added[i]!.id = String(id);
  });
  return added;
}

/** BullMQ's code for an add whose parent job does not exist (its scripts' `ParentJobNotExist`). */
const PARENT_MISSING = -5;

/**
 * The error for an add BullMQ's script answered with the error code `code` (a negative number)
 * instead of a job id: a missing parent is the caller's input, an {@link InvalidArgumentError} on
 * `parent`; any other code is reported as it is.
 */
export function addRefusedError(code: number, parentKey: string | undefined, cause?: unknown): Error {
  if (code === PARENT_MISSING) {
    return new InvalidArgumentError('parent', `the parent job ${parentKey ?? '(unknown)'} does not exist; nothing was added`, { cause });
  }
  return new Error(`BullMQ refused the add (error code ${code}); nothing was added`, { cause });
}
