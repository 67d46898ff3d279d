import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { countJobs, type JobEntry, type Producer } from '../producer/producer';
import { fairBacklog } from './backlog';
import type { FairScheduler, MakeJob } from './scheduler';

/**
 * Fair scheduling: undelayed jobs enter BullMQ held (delayed by `HELD_DELAY_MS`) and pending in
 * their tenants' backlog, in one MULTI per `add`/`addBulk`, and the dispatcher releases them;
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
      const added = await getQueue().addBulk(directIndexes.map((i) => jobs[i]) as never);
      directIndexes.forEach((index, k) => (result[index] = added[k] as Job<T>));
    }
    return result;
  };

  return {
    add: async (job) => (await addBulk([job]))[0]!,
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
