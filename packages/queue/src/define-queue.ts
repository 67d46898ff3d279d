import {
  InvalidArgumentError,
  bullPrefixFor,
  checkInteger,
  closeConnection,
  describeValue,
  getSharedConnection,
  loadRedisConfig,
  resolveKeyPrefix,
  type RedisClient,
} from '@platform/redis';
import { checkZodObjectSchema, clusterQueuePrefix } from '@platform/redis/internal';
import { Queue, type DefaultJobOptions, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { resolveFairness, type FairnessOptions } from './fairness/options';
import { fairProducer } from './fairness/producer';
import { keepFairTurns } from './fairness/backlog';
import { createFairScheduler, registerFairScheduler } from './fairness/scheduler';
import { createGuardedWrite, resolveWaitForReplicas, type WaitForReplicasOptions } from './guarded-write';
import { createStatsRecorder, deleteJobStats } from './job-stats';
import { resolveLogger, throttledErrorLog, type Logger } from '@platform/telemetry';
import { checkTimeouts, type JobTimeouts } from './timeouts';
import { queueName as buildQueueName } from './names';
import { traceEnqueue } from './telemetry';
import { DEFAULT_ENQUEUE_TIMEOUT_MS, DEFAULT_MAX_PAYLOAD_BYTES, defaultJobOptions as platformJobDefaults } from './options';
import {
  checkPayloadSize,
  validatePayload,
  withTenantId,
  type AnyObjectSchema,
  type TenantPayload,
  type TenantPayloadInput,
} from './payload';
import { checkPools, type ConcurrencyPool } from './pools/pool';
import { PoolSlots } from './pools/slots';
import { keySlot, queueMetaKey, queueSlotConnection } from './slot';
import { plainProducer, type JobEntry, type ObliterateOptions, type Producer, type QueueJobCounts } from './producer/producer';

export type { WaitForReplicasOptions } from './guarded-write';

/** Options of {@link defineQueue}. */
export interface DefineQueueOptions<S extends AnyObjectSchema> {
  /** First part of the queue name, e.g. `agent`. */
  namespace: string;
  /** Second part, e.g. `blog-writer`; the queue is `agent__blog-writer`. */
  name: string;
  /** zod object schema of the payload without `tenantId` (which every payload gets). */
  schema: S;
  /**
   * Fair hand-out of waiting jobs across tenants: `'per-tenant'` (weight 1, no slot limit, no rate,
   * window twice the live workers' total concurrency) or {@link FairnessOptions} for weights,
   * `maxActivePerTenant`, a per-tenant rate and the window, or `'none'` for plain BullMQ FIFO (the
   * same as leaving it out; the catalog queues, which are fair by default, take it as their
   * opt-out). See the README, "Fair scheduling across tenants".
   * @defaultValue `undefined`: plain BullMQ FIFO (`'none'`)
   */
  fairness?: 'none' | 'per-tenant' | FairnessOptions;
  /** Merged over the platform's {@link defaultJobOptions}. */
  defaultJobOptions?: DefaultJobOptions;
  /**
   * Shared concurrency pools this queue's jobs run under (`defineConcurrencyPool`): a job starts
   * only when every pool has a free slot for it, else it is deferred (no attempt spent).
   * @defaultValue `[]`
   */
  pools?: readonly ConcurrencyPool[];
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
  /**
   * Time limits of every job, from the start of each attempt: `softMs` aborts the handler's
   * `signal`, `hardMs` fails the job with `JobTimeoutError`. A job's own `timeouts` replace these.
   * See the README, "Time limits". @defaultValue `undefined`: no limits (agent queues of the catalog:
   * soft 3,000 s, hard 3,600 s)
   */
  timeouts?: JobTimeouts;
  /** Producer connection. @defaultValue the process-wide shared `producer` connection */
  connection?: RedisClient;
  /**
   * BullMQ key prefix; the fair scheduler's keys live under it too. On a Redis Cluster (a `Cluster`
   * connection, or `REDIS_CLUSTER_NODES` set) the queue's own hash tag is appended to it, default or
   * not (`'bull:{agent__blog-writer}'`): BullMQ's scripts need every key of a queue in one slot.
   * `settings.prefix` is the prefix in effect.
   * @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'`
   */
  prefix?: string;
  /**
   * Called with connection errors of the queue. Enqueue calls report them to their callers anyway.
   * @defaultValue an `error` line on `logger`, at most once per 30 s per queue
   */
  onError?: (error: Error) => void;
  /**
   * Count enqueued jobs per tenant in Redis (read by `@platform/ops` and the CLI): buffered in
   * process and written by one unawaited script call every 100 ms and on `close()`. @defaultValue `true`
   */
  recordStats?: boolean;
  /** Where the queue logs (pino's shape). @defaultValue the logger of `configureTelemetry`, else JSON lines on stderr */
  logger?: Logger;
}

/**
 * Per-job options of `enqueue`: BullMQ's job options plus the job name. A custom `jobId` must be a
 * string BullMQ accepts (not an integer such as `'42'`, no `:`), `delay` a finite number, `priority`
 * an integer from 0 to 2^21 - 1 and `attempts` an integer >= 0; anything else is refused with an
 * `InvalidArgumentError` before anything is written.
 */
export interface EnqueueOptions extends JobsOptions {
  /** BullMQ job name. @defaultValue the queue's `name` part */
  jobName?: string;
  /** Time limits of this job, replacing the queue's `timeouts`. @defaultValue the queue's `timeouts` */
  timeouts?: JobTimeouts;
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
    readonly timeouts: JobTimeouts | undefined;
    readonly pools: readonly ConcurrencyPool[];
  };
  /**
   * Validates and enqueues one job. Throws `PayloadValidationError` / `PayloadTooLargeError` before
   * anything is written, and `QueueUnavailableError` when Redis does not answer within
   * `enqueueTimeoutMs`. On a fair queue the job's `getState()` is `'pending'` while it waits in the
   * fair backlog, then BullMQ's state.
   */
  enqueue(payload: TenantPayloadInput<S>, options?: EnqueueOptions): Promise<Job<TenantPayload<S>>>;
  /**
   * Validates every payload first (one bad payload enqueues none; an `options` array must have one
   * entry per payload, else `InvalidArgumentError`), then adds them. On a plain queue the add is one
   * transaction: all or none. On a fair queue, undelayed jobs are added by one script
   * and jobs with a `delay` by one BullMQ `addBulk` after it: each part is all or none, but when the
   * second fails the first stays enqueued (retrying with the same `jobId`s adds no twins of jobs
   * still waiting).
   */
  enqueueBulk(
    payloads: readonly TenantPayloadInput<S>[],
    options?: EnqueueOptions | readonly EnqueueOptions[],
  ): Promise<Job<TenantPayload<S>>[]>;
  /** Job counts by BullMQ state plus `pending` (jobs of a fair queue still in its backlog; else 0). */
  counts(): Promise<QueueJobCounts>;
  /** A job by id, in BullMQ or pending in the fair backlog; `undefined` when there is none. */
  getJob(id: string): Promise<Job<TenantPayload<S>> | undefined>;
  /**
   * Removes waiting and prioritized jobs (and delayed ones with `delayed: true`), including those
   * pending in the fair backlog; active, completed and failed jobs stay.
   */
  drain(delayed?: boolean): Promise<void>;
  /** Deletes the queue and every job (and the fair scheduler's keys and the job statistics). Fails with active jobs unless `force`. */
  obliterate(options?: ObliterateOptions): Promise<void>;
  /** Validates a payload against the schema (used by workers on consume). */
  parse(payload: unknown): TenantPayload<S>;
  /** Closes the BullMQ `Queue` (not the shared connection). */
  close(): Promise<void>;
}

/** Whether the environment names a Redis Cluster. A bad config is reported where the connection is made, not here. */
function clusterConfigured(): boolean {
  try {
    return loadRedisConfig().clusterNodes !== undefined;
  } catch {
    return false;
  }
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
  type Data = TenantPayload<S>;
  const name = buildQueueName(options.namespace, options.name);
  checkZodObjectSchema(options.schema, 'schema', `defineQueue(${name})`, '@platform/queue');
  const payloadSchema = withTenantId(options.schema);
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
  const waitForReplicas = resolveWaitForReplicas(name, options.waitForReplicas, enqueueTimeoutMs);
  const onCluster = options.connection ? options.connection.isCluster : clusterConfigured();
  // On a cluster the queue's hash tag follows the base prefix (the default or the caller's), so all
  // of the queue's keys share one slot and different queues spread over the masters.
  const basePrefix = options.prefix ?? bullPrefixFor(resolveKeyPrefix());
  const prefix = onCluster ? clusterQueuePrefix(basePrefix, name) : basePrefix;
  const jobDefaults: DefaultJobOptions = { ...platformJobDefaults, ...options.defaultJobOptions };
  checkJobNumbers('defaultJobOptions.', jobDefaults);
  const fairness = resolveFairnessOption(name, options.fairness);
  const timeouts = checkTimeouts(`defineQueue(${name}): timeouts`, options.timeouts);
  const connection = (): RedisClient => options.connection ?? getSharedConnection('producer');
  // On a cluster, BullMQ talks to the queue's master over a connection of the queue's own (every
  // key of the queue is in its slot): no per-command routing by the Cluster client. The platform's
  // other calls keep the Cluster client: pools and the fair registry (keys elsewhere) and the job
  // statistics (in the queue's slot, but flushed on close, after this connection may be gone).
  const metaKey = queueMetaKey(prefix, name);
  let slotConnection: Redis | undefined;
  const queueConnection = (): RedisClient => {
    const client = connection();
    if (!client.isCluster) return client;
    slotConnection ??= queueSlotConnection(client, prefix, name, 'producer');
    return slotConnection!;
  };
  const pools = checkPools(name, options.pools);

  const logError = throttledErrorLog(resolveLogger(options.logger), { queue: name, component: 'queue' });
  let queue: Queue<Data> | undefined;
  const getQueue = (): Queue<Data> => {
    if (queue) return queue;
    queue = new Queue<Data>(name, { connection: queueConnection(), prefix, defaultJobOptions: jobDefaults });
    // Once per Queue: registering on every access leaked a listener per call.
    queue.on('error', options.onError ?? logError);
    // A fair queue's held jobs are BullMQ delayed jobs: promoting them would skip the tenants' turns.
    if (fairness !== undefined) keepFairTurns(queue as unknown as Queue, queueConnection);
    return queue;
  };

  const write = createGuardedWrite({
    name,
    enqueueTimeoutMs,
    waitForReplicas,
    connection: queueConnection,
    queueCreated: () => queue !== undefined,
    slotKey: metaKey,
  });
  const slots = pools.length > 0 ? new PoolSlots(name, pools, connection) : undefined;
  // The dispatch script takes pool slots at hand-out only when it may touch the pool keys: always
  // on one server, and on a cluster only when every pool key is in the queue's slot (else the
  // worker takes them, a script per pool and job).
  const queueSlot = keySlot(metaKey);
  const dispatchPools = onCluster && pools.some((p) => keySlot(p.key) !== queueSlot) ? undefined : slots;
  const scheduler = fairness
    ? createFairScheduler({
        queueName: name,
        prefix,
        registryPrefix: basePrefix,
        settings: resolveFairness(fairness),
        getQueue: getQueue as () => Queue,
        getClient: connection,
        defaultJobOptions: jobDefaults,
        poolSlots: slots,
        dispatchPools: dispatchPools !== undefined,
      })
    : undefined;
  const producer: Producer<Data> = scheduler ? fairProducer(getQueue, scheduler, connection) : plainProducer(getQueue);

  const stats = options.recordStats === false ? undefined : createStatsRecorder(connection, prefix, name);
  const countEnqueued = (entries: ReadonlyArray<JobEntry<Data>>): void => {
    if (!stats) return;
    const now = Date.now();
    for (const entry of entries) stats.increment(entry.data.tenantId, 'e', 1, now);
  };
  const parse = (payload: unknown): Data => validatePayload(name, payloadSchema, payload);
  // No copy of the options unless they carry the platform's own keys (BullMQ copies them into the job anyway).
  const entryOf = (data: Data, opts: EnqueueOptions | undefined): JobEntry<Data> => {
    if (opts === undefined) return { name: options.name, data, opts: undefined };
    return { name: opts.jobName ?? options.name, data, opts: jobOptionsOf(opts) };
  };
  // One zod pass and a size bound that serialises only near the limit.
  const toEntry = (payload: TenantPayloadInput<S>, opts: EnqueueOptions | undefined): JobEntry<Data> => {
    const data = parse(payload);
    checkPayloadSize(name, data, maxPayloadBytes);
    return entryOf(data, opts);
  };
  const add = async (entry: JobEntry<Data>): Promise<Job<Data>> => {
    const job = await traceEnqueue(name, [entry], () => write(() => producer.add(entry)));
    stats?.increment(entry.data.tenantId, 'e', 1);
    return job;
  };

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
      fairness: scheduler ? 'per-tenant' : 'none',
      defaultJobOptions: jobDefaults,
      waitForReplicas,
      timeouts,
      pools,
    },
    parse,
    enqueue(payload, opts) {
      // Not async: one promise, the add's; a refused payload rejects as from an async function.
      let entry: JobEntry<Data>;
      try {
        entry = toEntry(payload, opts);
      } catch (error) {
        return Promise.reject(error);
      }
      return add(entry);
    },
    async enqueueBulk(payloads, opts) {
      if (Array.isArray(opts) && opts.length !== payloads.length) {
        throw new InvalidArgumentError('options', `enqueueBulk(${name}): ${opts.length} per-job options for ${payloads.length} payloads; pass one per payload, or one object for all`);
      }
      const entries = payloads.map((payload, index) => {
        const perJob = Array.isArray(opts) ? (opts as readonly EnqueueOptions[])[index] : (opts as EnqueueOptions | undefined);
        try {
          return toEntry(payload, perJob);
        } catch (error) {
          if (error instanceof Error) error.message = `payload #${index}: ${error.message}`;
          throw error;
        }
      });
      if (entries.length === 0) return [];
      const jobs = await traceEnqueue(name, entries, () => write(() => producer.addBulk(entries)));
      countEnqueued(entries);
      return jobs;
    },
    counts: () => producer.counts(),
    getJob: (id) => producer.getJob(id),
    drain: (delayed = false) => producer.drain(delayed),
    async obliterate(opts = {}) {
      await producer.obliterate(opts);
      await stats?.flush();
      await deleteJobStats(connection(), prefix, name);
    },
    async close() {
      await producer.idle();
      await stats?.flush();
      if (queue) await queue.close();
      queue = undefined;
      if (slotConnection) await closeConnection(slotConnection);
      slotConnection = undefined;
    },
  };

  if (scheduler) registerFairScheduler(definition, scheduler);
  parsedEnqueues.set(definition, {
    schema: options.schema,
    // Entry and add as `enqueue`, without the zod pass and the size check (the caller made both).
    enqueue: (data, opts) => {
      try {
        return add(entryOf(data as Data, opts));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  });
  if (slots) poolSlotsByDefinition.set(definition, slots);
  return definition;
}

/**
 * Refuses a custom `jobId` BullMQ would refuse at its add (an integer such as `'42'`, or a `:` outside
 * BullMQ's own three-part repeat ids): before anything is written, as an `InvalidArgumentError`
 * rather than BullMQ's plain `Error` (on a fair queue as well: its jobs enter BullMQ at enqueue).
 */
function checkJobId(jobId: unknown): void {
  if (typeof jobId !== 'string' || jobId === '') {
    throw new InvalidArgumentError('jobId', `must be a non-empty string, got ${describeValue(jobId)}`);
  }
  if (jobId.startsWith('0:')) {
    throw new InvalidArgumentError('jobId', `must not start with '0:' (BullMQ refuses it), got '${jobId}'`);
  }
  if (`${parseInt(jobId, 10)}` === jobId) {
    throw new InvalidArgumentError('jobId', `must not be an integer (BullMQ numbers its own jobs), got '${jobId}'`);
  }
  if (jobId.includes(':') && jobId.split(':').length !== 3) {
    throw new InvalidArgumentError('jobId', `must not contain ':' (a BullMQ key separator), got '${jobId}'`);
  }
}

/** BullMQ's largest priority (2^21 - 1); 0 is no priority. */
const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * Refuses numbers of job options that BullMQ would refuse with a plain `Error` (a fractional
 * priority), fail to store (`NaN` or `Infinity`: its scripts cannot encode them) or store as
 * nonsense (a negative priority, a fractional number of attempts): before anything is written.
 */
function checkJobNumbers(argument: string, opts: DefaultJobOptions): void {
  const { delay, priority, attempts } = opts as { delay?: unknown; priority?: unknown; attempts?: unknown };
  if (delay !== undefined && (typeof delay !== 'number' || !Number.isFinite(delay))) {
    throw new InvalidArgumentError(`${argument}delay`, `must be a finite number of ms, got ${describeValue(delay)}`);
  }
  if (priority !== undefined) checkInteger(`${argument}priority`, priority, 0, MAX_PRIORITY);
  if (attempts !== undefined) checkInteger(`${argument}attempts`, attempts, 0);
}

/**
 * Throws `InvalidArgumentError` for enqueue options the queue or BullMQ would refuse: a custom
 * `jobId`, the numbers (`delay`, `priority`, `attempts`) and `timeouts`. Returns the checked copy
 * of `timeouts`. Also for siblings that store options to enqueue later (the outbox).
 */
export function checkEnqueueOptions(opts: EnqueueOptions): JobTimeouts | undefined {
  if (opts.jobId !== undefined) checkJobId(opts.jobId);
  checkJobNumbers('', opts);
  return checkTimeouts('timeouts', opts.timeouts);
}

/** BullMQ's options of a job: `opts` without `jobName`, checked, `timeouts` kept in the job (where the worker reads them). */
function jobOptionsOf(opts: EnqueueOptions): JobsOptions {
  const checked = checkEnqueueOptions(opts);
  if (!('jobName' in opts) && !('timeouts' in opts)) return opts;
  const { jobName: _jobName, timeouts: _timeouts, ...jobOptions } = opts;
  if (checked) (jobOptions as EnqueueOptions).timeouts = checked;
  return jobOptions;
}

/** The enqueue for already validated data of a definition, see {@link parsedEnqueueOf}. */
export type ParsedEnqueue<S extends AnyObjectSchema> = (data: TenantPayload<S>, options?: EnqueueOptions) => Promise<Job<TenantPayload<S>>>;

const parsedEnqueues = new WeakMap<object, { schema: AnyObjectSchema; enqueue: ParsedEnqueue<AnyObjectSchema> }>();

/**
 * For a sibling library that validated a payload itself, against a schema at least as strict as
 * `schema` with its `tenantId`, and checked its size with `checkPayloadSize` against
 * `definition.settings.maxPayloadBytes` (`@platform/queue/internal`): `definition`'s `enqueue`
 * without its own zod pass and size check (the same job options check, span, write and
 * statistics). `undefined` unless `definition` is one `defineQueue` made with exactly `schema` (a
 * wrapper or a queue of another schema): then the caller uses `definition.enqueue`.
 */
export function parsedEnqueueOf<S extends AnyObjectSchema>(definition: QueueDefinition<S>, schema: S): ParsedEnqueue<S> | undefined {
  const entry = parsedEnqueues.get(definition);
  return entry !== undefined && entry.schema === schema ? (entry.enqueue as unknown as ParsedEnqueue<S>) : undefined;
}

const poolSlotsByDefinition = new WeakMap<object, PoolSlots>();

/** The pool slots of a definition that joined pools (its workers take, refresh and give back slots through it). */
export function poolSlotsOf(definition: object): PoolSlots | undefined {
  return poolSlotsByDefinition.get(definition);
}

/** `fairness` as options (`'per-tenant'` is all defaults), or `undefined` for a plain queue (`'none'` or left out). */
function resolveFairnessOption(name: string, fairness: unknown): FairnessOptions | undefined {
  if (fairness === undefined || fairness === 'none') return undefined;
  if (fairness === 'per-tenant') return {};
  if (typeof fairness === 'object' && fairness !== null && !Array.isArray(fairness)) return fairness as FairnessOptions;
  throw new InvalidArgumentError('fairness', `defineQueue(${name}): must be 'none', 'per-tenant' or an object of fairness options, got ${describeValue(fairness)}`);
}
