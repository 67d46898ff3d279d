import { InvalidArgumentError, describeValue, getSharedConnection, isConnectionError } from '@platform/redis';
import { Queue, type DefaultJobOptions, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueNotReplicatedError, QueueUnavailableError } from './errors';
import { createFairScheduler, registerFairScheduler, type FairEntry } from './fairness/scheduler';
import { resolveFairness, type FairnessOptions } from './fairness/options';
import { throttledLogger } from './log';
import { queueName as buildQueueName } from './names';
import {
  DEFAULT_ENQUEUE_TIMEOUT_MS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_REPLICA_WAIT_TIMEOUT_MS,
  defaultJobOptions as platformJobDefaults,
} from './options';
import {
  checkPayloadSize,
  isObjectSchema,
  validatePayload,
  withTenantId,
  type AnyObjectSchema,
  type TenantPayload,
  type TenantPayloadInput,
} from './payload';

/** Options of {@link defineQueue}. */
export interface DefineQueueOptions<S extends AnyObjectSchema> {
  /** First part of the queue name, e.g. `agent`. */
  namespace: string;
  /** Second part, e.g. `blog-writer`; the queue is `agent__blog-writer`. */
  name: string;
  /** zod object schema of the payload without `tenantId` (which every payload gets). */
  schema: S;
  /** `'per-tenant'` hands waiting jobs out across tenants in turn. @defaultValue `'none'` (FIFO) */
  fairness?: 'none' | 'per-tenant';
  /**
   * Weights, `maxActivePerTenant`, per-tenant rate and window of `fairness: 'per-tenant'`
   * (ignored otherwise). See the README, "Fair scheduling across tenants".
   * @defaultValue `{}` (weight 1, no slot limit, no rate, window 50)
   */
  fairnessOptions?: FairnessOptions;
  /** Merged over the platform's {@link defaultJobOptions}. */
  defaultJobOptions?: DefaultJobOptions;
  /** Largest payload accepted, as JSON bytes. @defaultValue `524288` (512 KiB) */
  maxPayloadBytes?: number;
  /** Longest `enqueue` may wait for Redis before rejecting with `QueueUnavailableError`. @defaultValue `5000` */
  enqueueTimeoutMs?: number;
  /**
   * Resolve `enqueue`/`enqueueBulk` only once this many replicas have the job (Redis `WAIT` on the
   * producer connection after the add), so that a Sentinel failover cannot lose a job whose enqueue
   * resolved. When fewer replicas confirm within `timeoutMs`, or the connection was re-established
   * in between, the call rejects with `QueueNotReplicatedError` (the job is on the master; retry with
   * the same `jobId`). Costs one round trip per call; with no replica reachable every enqueue rejects.
   * @defaultValue `undefined`: resolve when the master has the job (a failover can lose the jobs of
   * the last moments before it; see docs/reliability.md)
   */
  waitForReplicas?: WaitForReplicasOptions;
  /** Producer connection. @defaultValue the process-wide shared `producer` connection */
  connection?: Redis;
  /** BullMQ key prefix. @defaultValue `'bull'` */
  prefix?: string;
  /**
   * Called with connection errors of the queue. Enqueue calls report them to their callers anyway.
   * @defaultValue log to stderr, at most once per 30 s per queue
   */
  onError?: (error: Error) => void;
}

/** How many replicas must confirm an enqueue, and how long to wait for them. */
export interface WaitForReplicasOptions {
  /** Replicas that must have the job before the enqueue resolves (an integer, at least 1). */
  replicas: number;
  /**
   * Longest wait for them (the `WAIT` timeout); must be below `enqueueTimeoutMs`.
   * @defaultValue `1000`
   */
  timeoutMs?: number;
}

/** Per-job options of `enqueue`: BullMQ's job options plus the job name. */
export interface EnqueueOptions extends JobsOptions {
  /** BullMQ job name. @defaultValue the queue's `name` part */
  jobName?: string;
}

/** A defined queue: its name, BullMQ `Queue`, and validated enqueue functions. */
export interface QueueDefinition<S extends AnyObjectSchema = AnyObjectSchema> {
  /** Full queue name, e.g. `agent__blog-writer`. */
  readonly name: string;
  /** The BullMQ `Queue` (created on first use on the producer connection). */
  readonly queue: Queue<TenantPayload<S>>;
  /** The payload schema including `tenantId`. */
  readonly payloadSchema: AnyObjectSchema;
  /** Resolved settings (after defaults). */
  readonly settings: {
    readonly prefix: string;
    readonly maxPayloadBytes: number;
    readonly enqueueTimeoutMs: number;
    readonly fairness: 'none' | 'per-tenant';
    readonly defaultJobOptions: DefaultJobOptions;
    readonly waitForReplicas: Required<WaitForReplicasOptions> | undefined;
  };
  /**
   * Validates and enqueues one job. Throws `PayloadValidationError` / `PayloadTooLargeError` before
   * anything is written, and `QueueUnavailableError` when Redis does not answer within
   * `enqueueTimeoutMs`.
   */
  enqueue(payload: TenantPayloadInput<S>, options?: EnqueueOptions): Promise<Job<TenantPayload<S>>>;
  /** Validates every payload first, then enqueues them all in one transaction (all or none). */
  enqueueBulk(
    payloads: readonly TenantPayloadInput<S>[],
    options?: EnqueueOptions | readonly EnqueueOptions[],
  ): Promise<Job<TenantPayload<S>>[]>;
  /** Validates a payload against the schema (used by workers on consume). */
  parse(payload: unknown): TenantPayload<S>;
  /** Closes the BullMQ `Queue` (not the shared connection). */
  close(): Promise<void>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const readyWaits = new WeakMap<Redis, Promise<void>>();

/** Resolves once `client` is ready; one listener per client however many callers wait (they bound it). */
function untilReady(client: Redis): Promise<void> {
  let wait = readyWaits.get(client);
  if (!wait) {
    wait = new Promise((resolve) =>
      client.once('ready', () => {
        readyWaits.delete(client);
        resolve();
      }),
    );
    readyWaits.set(client, wait);
  }
  return wait;
}

function resolveWaitForReplicas(
  name: string,
  option: WaitForReplicasOptions | undefined,
  enqueueTimeoutMs: number,
): Required<WaitForReplicasOptions> | undefined {
  if (option === undefined) return undefined;
  const replicas: unknown = option?.replicas;
  const timeoutMs: unknown = option?.timeoutMs ?? DEFAULT_REPLICA_WAIT_TIMEOUT_MS;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1) {
    throw new InvalidArgumentError('waitForReplicas.replicas', `defineQueue(${name}): must be an integer >= 1, got ${describeValue(replicas)}`);
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs >= enqueueTimeoutMs) {
    throw new InvalidArgumentError(
      'waitForReplicas.timeoutMs',
      `defineQueue(${name}): must be an integer from 1 to enqueueTimeoutMs - 1 (${enqueueTimeoutMs - 1}), got ${describeValue(timeoutMs)}`,
    );
  }
  return { replicas, timeoutMs };
}

/**
 * Defines a tenant-aware queue named `` `${namespace}__${name}` ``. Every payload is
 * `{ tenantId, ...schema }`, validated before it reaches Redis.
 *
 * @example
 * const blogWriter = defineQueue({ namespace: 'agent', name: 'blog-writer', schema: z.object({ topic: z.string() }) });
 * await blogWriter.enqueue({ tenantId: 'acme', topic: 'Redis at scale' });
 */
export function defineQueue<S extends AnyObjectSchema>(options: DefineQueueOptions<S>): QueueDefinition<S> {
  const name = buildQueueName(options.namespace, options.name);
  if (!isObjectSchema(options.schema)) {
    throw new InvalidArgumentError('schema', `defineQueue(${name}): must be a zod object schema (z.object({...}))`);
  }
  const payloadSchema = withTenantId(options.schema);
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
  const replication = resolveWaitForReplicas(name, options.waitForReplicas, enqueueTimeoutMs);
  const prefix = options.prefix ?? 'bull';
  const jobDefaults: DefaultJobOptions = { ...platformJobDefaults, ...options.defaultJobOptions };
  const defaultJobName = options.name;

  const logError = throttledLogger(`queue ${name}`);
  let queue: Queue<TenantPayload<S>> | undefined;
  const getQueue = (): Queue<TenantPayload<S>> => {
    if (queue) return queue;
    queue = new Queue<TenantPayload<S>>(name, {
      connection: connection(),
      prefix,
      defaultJobOptions: jobDefaults,
    });
    // Once per Queue: registering on every access leaked a listener per call.
    queue.on('error', options.onError ?? logError);
    return queue;
  };

  const parse = (payload: unknown): TenantPayload<S> => validatePayload(name, payloadSchema, payload);

  const connection = () => options.connection ?? getSharedConnection('producer');
  // A ready connection whose commands time out by themselves (every producer connection) needs no
  // timer of ours; one that is still connecting needs it, since BullMQ waits for "ready" unbounded.
  const selfBounded = (): boolean => {
    const client = connection();
    const timeout = client.options.commandTimeout;
    return client.status === 'ready' && typeof timeout === 'number' && timeout <= enqueueTimeoutMs;
  };
  // With waitForReplicas: the add, then WAIT on the same connection. WAIT counts the replicas that
  // acknowledged every write this connection made, so it only proves something about the add when
  // both travelled on the same socket: after a reconnect (to a new master, after a failover) WAIT
  // would count writes the new connection never made. Hence the socket is compared.
  const addReplicated = async <T>(add: () => Promise<T>): Promise<T> => {
    const { replicas, timeoutMs } = replication!;
    const client = connection();
    if (client.status === 'wait') client.connect().catch(() => undefined); // lazyConnect: nothing else would connect it
    if (client.status !== 'ready') await untilReady(client);
    const socket = client.stream;
    const result = await add();
    const confirmed = Number(await client.call('WAIT', replicas, timeoutMs));
    if (client.stream !== socket) {
      throw new QueueNotReplicatedError(name, 0, replicas, 'the connection was re-established before WAIT (a failover?)');
    }
    if (confirmed < replicas) throw new QueueNotReplicatedError(name, confirmed, replicas, `WAIT timed out after ${timeoutMs} ms`);
    return result;
  };
  const write = <T>(add: () => Promise<T>): Promise<T> => guard(replication ? () => addReplicated(add) : add);
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      if (queue && selfBounded()) return await work();
      return await withTimeout(work(), enqueueTimeoutMs, () =>
        new QueueUnavailableError(name, `Redis did not accept the job within ${enqueueTimeoutMs} ms`),
      );
    } catch (error) {
      if (error instanceof QueueUnavailableError) throw error;
      if (isConnectionError(error)) {
        throw new QueueUnavailableError(name, (error as Error).message, { cause: error });
      }
      throw error;
    }
  };

  const toJob = (opts: EnqueueOptions | undefined) => {
    if (!opts) return { jobName: defaultJobName, jobOptions: undefined };
    const { jobName, ...jobOptions } = opts;
    return { jobName: jobName ?? defaultJobName, jobOptions };
  };

  // Fair scheduling (issue 10): with fairness on, undelayed jobs go through the tenants' pending sets.
  const fair =
    options.fairness === 'per-tenant'
      ? createFairScheduler({
          queueName: name,
          prefix,
          settings: resolveFairness(options.fairnessOptions),
          getQueue: getQueue as () => Queue,
          getClient: () => options.connection ?? getSharedConnection('producer'),
          defaultJobOptions: jobDefaults,
        })
      : undefined;
  const viaFair = (jobOptions: EnqueueOptions | undefined): boolean => fair !== undefined && !(jobOptions?.delay && jobOptions.delay > 0);

  const definition: QueueDefinition<S> = {
    name,
    get queue() {
      return getQueue();
    },
    payloadSchema,
    settings: {
      prefix,
      maxPayloadBytes,
      enqueueTimeoutMs,
      fairness: options.fairness ?? 'none',
      defaultJobOptions: jobDefaults,
      waitForReplicas: replication,
    },
    parse,
    async enqueue(payload, opts) {
      const data = parse(payload);
      checkPayloadSize(name, data, maxPayloadBytes);
      const { jobName, jobOptions } = toJob(opts);
      if (fair && viaFair(jobOptions)) {
        const [job] = await write(() => fair.enqueue([{ name: jobName, data, opts: jobOptions }]));
        return job as Job<TenantPayload<S>>;
      }
      // The cast is sound: BullMQ's add() types its name parameter through a conditional type.
      return write(() => getQueue().add(jobName as never, data as never, jobOptions) as Promise<Job<TenantPayload<S>>>);
    },
    async enqueueBulk(payloads, opts) {
      const jobs = payloads.map((payload, index) => {
        let data: TenantPayload<S>;
        try {
          data = parse(payload);
        } catch (error) {
          if (error instanceof Error) error.message = `payload #${index}: ${error.message}`;
          throw error;
        }
        checkPayloadSize(name, data, maxPayloadBytes);
        const perJob = Array.isArray(opts) ? (opts as readonly EnqueueOptions[])[index] : (opts as EnqueueOptions | undefined);
        const { jobName, jobOptions } = toJob(perJob);
        return { name: jobName, data, opts: jobOptions };
      });
      if (jobs.length === 0) return [];
      if (fair) return write(() => enqueueBulkFair(jobs));
      return write(() => getQueue().addBulk(jobs as never) as Promise<Job<TenantPayload<S>>[]>);
    },
    async close() {
      await fair?.idle();
      if (queue) await queue.close();
      queue = undefined;
    },
  };

  // Fair bulk enqueue: undelayed jobs in one script call; delayed ones go to BullMQ directly.
  const enqueueBulkFair = async (
    jobs: Array<{ name: string; data: TenantPayload<S>; opts: EnqueueOptions | undefined }>,
  ): Promise<Job<TenantPayload<S>>[]> => {
    const result: Job<TenantPayload<S>>[] = new Array<Job<TenantPayload<S>>>(jobs.length);
    const fairIndexes = jobs.flatMap((job, i) => (viaFair(job.opts) ? [i] : []));
    const directIndexes = jobs.flatMap((job, i) => (viaFair(job.opts) ? [] : [i]));
    if (fairIndexes.length > 0) {
      const added = await fair!.enqueue(fairIndexes.map((i) => jobs[i] as FairEntry));
      fairIndexes.forEach((index, k) => (result[index] = added[k] as Job<TenantPayload<S>>));
    }
    if (directIndexes.length > 0) {
      const added = await getQueue().addBulk(directIndexes.map((i) => jobs[i]) as never);
      directIndexes.forEach((index, k) => (result[index] = added[k] as Job<TenantPayload<S>>));
    }
    return result;
  };

  if (fair) registerFairScheduler(definition, fair);
  return definition;
}
