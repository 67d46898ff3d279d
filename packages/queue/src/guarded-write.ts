import { InvalidArgumentError, describeValue, isConnectionError, type RedisClient } from '@platform/redis';
import { QueueNotReplicatedError, QueueUnavailableError } from './errors';
import { DEFAULT_REPLICA_WAIT_TIMEOUT_MS } from './options';
import { masterFor } from './slot';
import type { Cluster, Redis } from 'ioredis';

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

/** Runs one write to Redis under the queue's guarantees (see {@link createGuardedWrite}). */
export type GuardedWrite = <T>(add: () => Promise<T>) => Promise<T>;

/** Checks `waitForReplicas` against `enqueueTimeoutMs` and applies its default. */
export function resolveWaitForReplicas(
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

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const readyWaits = new WeakMap<RedisClient, Promise<void>>();

/** Resolves once `client` is ready; one listener per client however many callers wait (they bound it). */
function untilReady(client: RedisClient): Promise<void> {
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

/**
 * The write path of a queue: each write rejects with `QueueUnavailableError` when Redis does not
 * answer within `enqueueTimeoutMs` (connection errors are reported the same way) and, with
 * `waitForReplicas`, resolves only once that many replicas confirmed it (`QueueNotReplicatedError`
 * otherwise).
 */
export function createGuardedWrite(params: {
  name: string;
  enqueueTimeoutMs: number;
  waitForReplicas: Required<WaitForReplicasOptions> | undefined;
  /** The producer connection. */
  connection: () => RedisClient;
  /** A key of the queue: on a cluster, `WAIT` goes to the master of its slot. */
  slotKey: string;
  /** Whether the BullMQ `Queue` exists already (a new one first waits for "ready", unbounded). */
  queueCreated: () => boolean;
}): GuardedWrite {
  const { name, enqueueTimeoutMs, waitForReplicas, connection, queueCreated, slotKey } = params;

  // A ready connection whose commands time out by themselves (every producer connection) needs no
  // timer of ours; one that is still connecting needs it, since BullMQ waits for "ready" unbounded.
  const selfBounded = (): boolean => {
    const client = connection();
    const timeout = client.isCluster ? (client as Cluster).options.redisOptions?.commandTimeout : (client as Redis).options.commandTimeout;
    return client.status === 'ready' && typeof timeout === 'number' && timeout <= enqueueTimeoutMs;
  };

  // The add, then WAIT on the same connection. WAIT counts the replicas that acknowledged every
  // write this connection made, so it only proves something about the add when both travelled on
  // the same socket: after a reconnect (to a new master, after a failover) WAIT would count writes
  // the new connection never made. Hence the socket is compared. On a cluster, "the connection" is
  // the one to the master of the queue's slot, looked up before and after the add.
  const replicated = async <T>(add: () => Promise<T>, { replicas, timeoutMs }: Required<WaitForReplicasOptions>): Promise<T> => {
    const client = connection();
    if (client.status === 'wait') client.connect().catch(() => undefined); // lazyConnect: nothing else would connect it
    if (client.status !== 'ready') await untilReady(client);
    const nodeOf = (): Redis | undefined => (client.isCluster ? masterFor(client as Cluster, slotKey) : (client as Redis));
    const before = nodeOf();
    // A cluster opens its node connections on first use: the socket may only exist after the add.
    const socketBefore = before?.stream;
    const result = await add();
    const node = nodeOf();
    if (!node || node !== before) {
      throw new QueueNotReplicatedError(name, 0, replicas, "the queue's slot moved to another master before WAIT (a failover?)");
    }
    const socket = socketBefore ?? node.stream;
    const confirmed = Number(await node.call('WAIT', replicas, timeoutMs));
    if (node.stream !== socket) {
      throw new QueueNotReplicatedError(name, 0, replicas, 'the connection was re-established before WAIT (a failover?)');
    }
    if (confirmed < replicas) throw new QueueNotReplicatedError(name, confirmed, replicas, `WAIT timed out after ${timeoutMs} ms`);
    return result;
  };

  const reportUnavailable = (error: unknown): never => {
    if (error instanceof QueueUnavailableError) throw error;
    if (isConnectionError(error)) throw new QueueUnavailableError(name, (error as Error).message, { cause: error });
    throw error;
  };
  return <T>(add: () => Promise<T>): Promise<T> => {
    // No async wrapper: the hot path is the add's own promise plus one rejection handler.
    try {
      // Decided before the add: the add creates the Queue, whose first command waits for "ready" unbounded.
      const bounded = queueCreated() && selfBounded();
      const work = waitForReplicas ? replicated(add, waitForReplicas) : add();
      if (bounded) return work.catch(reportUnavailable);
      return withTimeout(work, enqueueTimeoutMs, () => new QueueUnavailableError(name, `Redis did not accept the job within ${enqueueTimeoutMs} ms`)).catch(
        reportUnavailable,
      );
    } catch (error) {
      return Promise.reject(error).catch(reportUnavailable);
    }
  };
}
