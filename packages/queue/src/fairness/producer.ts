import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { countJobs, type JobEntry, type Producer } from '../producer/producer';
import { fairBacklog } from './backlog';
import type { FairAdded, FairScheduler } from './scheduler';

/**
 * Fair scheduling: undelayed jobs go into their tenants' backlog (one script call per
 * `add`/`addBulk`) and reach BullMQ through the dispatcher; delayed jobs go to BullMQ's delayed set
 * directly. Counts, `getJob`, `drain` and `obliterate` cover the backlog as well as BullMQ.
 */
export function fairProducer<T extends { tenantId: string }>(
  getQueue: () => Queue<T>,
  scheduler: FairScheduler,
  client: () => RedisClient,
): Producer<T> {
  const backlog = fairBacklog(scheduler.keys, client);
  const queue = (): Queue => getQueue() as Queue;
  const viaFair = (job: JobEntry<T>): boolean => !(job.opts?.delay && job.opts.delay > 0);
  const toFairJobs = (added: FairAdded[]): Job<T>[] => added.map((job) => backlog.job(queue(), job.name, job.data as T, job.opts, job.id));

  const addBulk = async (jobs: readonly JobEntry<T>[]): Promise<Job<T>[]> => {
    const result = new Array<Job<T>>(jobs.length);
    const fairIndexes = jobs.flatMap((job, i) => (viaFair(job) ? [i] : []));
    const directIndexes = jobs.flatMap((job, i) => (viaFair(job) ? [] : [i]));
    if (fairIndexes.length > 0) {
      const added = toFairJobs(await scheduler.enqueue(fairIndexes.map((i) => jobs[i]!)));
      fairIndexes.forEach((index, k) => (result[index] = added[k]!));
    }
    if (directIndexes.length > 0) {
      const added = await getQueue().addBulk(directIndexes.map((i) => jobs[i]) as never);
      directIndexes.forEach((index, k) => (result[index] = added[k] as Job<T>));
    }
    return result;
  };

  return {
    add: async (job) => (await addBulk([job]))[0]!,
    addBulk,
    counts: async () => countJobs(queue(), await backlog.count()),
    async getJob(id) {
      // Dispatch adds to BullMQ before it drops the stored copy: look in BullMQ, the backlog, then
      // BullMQ again, so a job handed out in between is not missed.
      const inBull = (await queue().getJob(id)) as Job<T> | undefined;
      if (inBull) return inBull;
      const pending = await backlog.get<T>(queue(), id);
      if (pending) return pending;
      return ((await queue().getJob(id)) as Job<T> | undefined) ?? undefined;
    },
    async drain(delayed) {
      await backlog.drain();
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
