import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { addAllOrNone, countJobs, type JobEntry, type Producer } from '../producer/producer';
import { fairBacklog } from './backlog';
import { fairEnqueueWroteNothing } from './hold';
import type { FairScheduler, MakeJob } from './scheduler';

/**
 * Fair scheduling: undelayed jobs enter BullMQ held (delayed by `HELD_DELAY_MS`) and pending in
 * their tenants' backlog, in one MULTI per `addBulk` and per event-loop turn of `add` calls (an
 * ioredis MULTI on BullMQ's client costs more to build than the add itself), and the dispatcher releases them;
 * delayed jobs go to BullMQ's delayed set directly. `counts()` shows held jobs as `pending` (not
 * `delayed`), a held job's `getState()` says `pending`, `drain` removes them.
 */
export function fairProducer<T extends { tenantId: string }>(
  getQueue: () => Queue<T>,
  scheduler: FairScheduler,
  client: () => RedisClient,
): Producer<T> {
  const backlog = fairBacklog(scheduler.keys, client);
  const queue = (): Queue => getQueue() as Queue;
  const viaFair = (job: JobEntry<T>): boolean => !(job.opts?.delay && job.opts.delay > 0);
  const makeJob: MakeJob = (q, name, data, opts, id) => backlog.job(q, name, data, opts, id);

  const addBulk = async (jobs: readonly JobEntry<T>[]): Promise<Job<T>[]> => {
    const result = new Array<Job<T>>(jobs.length);
    const fairIndexes = jobs.flatMap((job, i) => (viaFair(job) ? [i] : []));
    const directIndexes = jobs.flatMap((job, i) => (viaFair(job) ? [] : [i]));
    if (fairIndexes.length > 0) {
      const added = (await scheduler.enqueue(fairIndexes.map((i) => jobs[i]!), makeJob)) as Job<T>[];
      fairIndexes.forEach((index, k) => (result[index] = added[k]!));
    }
    if (directIndexes.length > 0) {
      const added = await addAllOrNone(queue(), directIndexes.map((i) => jobs[i]!));
      directIndexes.forEach((index, k) => (result[index] = added[k] as Job<T>));
    }
    return result;
  };

  // The single adds of one event-loop turn go in one MULTI. A batch that wrote nothing (a tenant's
  // full backlog, options BullMQ refuses) is sent again one add at a time, so each caller gets its
  // own answer; any other failure (a lost reply: the MULTI may have run) is every caller's.
  let turn: Array<{ job: JobEntry<T>; resolve: (job: Job<T>) => void; reject: (error: unknown) => void }> | undefined;
  const one = async (job: JobEntry<T>): Promise<Job<T>> => (await scheduler.enqueue([job], makeJob))[0] as Job<T>;
  const flushTurn = (): void => {
    const calls = turn!;
    turn = undefined;
    scheduler.enqueue(calls.map((call) => call.job), makeJob).then(
      (added) => calls.forEach((call, i) => call.resolve(added[i] as Job<T>)),
      (error: unknown) => {
        if (calls.length === 1 || !fairEnqueueWroteNothing(error)) return calls.forEach((call) => call.reject(error));
        for (const call of calls) one(call.job).then(call.resolve, call.reject);
      },
    );
  };
  // A job with a parent can fail inside the MULTI after the others were written: it goes alone.
  const batchable = (job: JobEntry<T>): boolean => viaFair(job) && !job.opts?.parent;

  return {
    add: (job) => {
      if (!batchable(job)) return addBulk([job]).then((jobs) => jobs[0]!);
      return new Promise<Job<T>>((resolve, reject) => {
        if (!turn) {
          turn = [];
          setImmediate(flushTurn);
        }
        turn.push({ job, resolve, reject });
      });
    },
    addBulk,
    async counts() {
      const [counts, held] = await Promise.all([countJobs(queue(), 0), backlog.count()]);
      // Held jobs are BullMQ delayed jobs: shown as pending only.
      return { ...counts, pending: held, delayed: Math.max(0, counts.delayed - held) };
    },
    getJob: (id) => backlog.get<T>(queue(), id),
    async drain(delayed) {
      await backlog.drain(queue());
      await getQueue().drain(delayed);
    },
    async obliterate(options) {
      await scheduler.idle();
      await getQueue().obliterate(options);
      await backlog.obliterate();
    },
    idle: () => scheduler.idle(),
  };
}
