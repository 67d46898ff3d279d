import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { loadRedisConfig, type RedisConfig } from './config';
import { RedisUnavailableError } from './errors';

/**
 * What a connection is for.
 * - `worker`: BullMQ workers. Never gives up: `maxRetriesPerRequest: null`, `enableReadyCheck: false`
 *   (as BullMQ requires) and reconnects forever with capped backoff.
 * - `producer`: enqueueing from request handlers. Fails fast while Redis is down: a command that cannot
 *   be answered within `commandTimeoutMs` rejects instead of hanging the caller.
 */
export type ConnectionRole = 'worker' | 'producer';

/**
 * What {@link createRedisConnection} and {@link getSharedConnection} return: a `Redis` for a
 * standalone server or Sentinel, a `Cluster` when `REDIS_CLUSTER_NODES` is set. Both speak the same
 * commands and both have `duplicate()`; code that needs one of them checks `isCluster`.
 */
export type RedisClient = Redis | Cluster;

/** Options of {@link createRedisConnection}. */
export interface ConnectionOptions {
  /** What the connection is for. @defaultValue `'producer'` */
  role?: ConnectionRole;
  /** Producer only: a command not answered within this many ms rejects. @defaultValue `5000` */
  commandTimeoutMs?: number;
  /** Time allowed to open the TCP/TLS connection. @defaultValue `5000` */
  connectTimeoutMs?: number;
  /** Client name shown by `CLIENT LIST`. @defaultValue `platform:<role>` */
  connectionName?: string;
  /**
   * Called for connection errors (refused, reset, TLS). They are otherwise silent, because commands
   * already report them to their callers. Messages never contain the password.
   */
  onError?: (error: Error) => void;
  /** Extra ioredis options, applied last (for example `lazyConnect`); on a cluster, to every node. */
  redisOptions?: RedisOptions;
  /** Extra ioredis `Cluster` options, applied last (cluster only). */
  clusterOptions?: ClusterOptions;
}

/** Defaults of {@link ConnectionOptions}. */
export const defaultConnectionOptions = {
  role: 'producer' as ConnectionRole,
  commandTimeoutMs: 5000,
  connectTimeoutMs: 5000,
} as const;

/** Reconnect delays: 50 ms doubling to at most 2 s, with jitter so a fleet does not reconnect in step. */
export function reconnectDelay(times: number): number {
  const base = Math.min(50 * 2 ** Math.min(times, 10), 2000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Builds the ioredis options for a config and role (exposed for BullMQ connection options and tests). */
export function redisOptionsFor(config: RedisConfig, options: ConnectionOptions = {}): RedisOptions {
  const role = options.role ?? defaultConnectionOptions.role;
  const base: RedisOptions = {
    db: config.db,
    connectTimeout: options.connectTimeoutMs ?? defaultConnectionOptions.connectTimeoutMs,
    connectionName: options.connectionName ?? `platform:${role}`,
    retryStrategy: reconnectDelay,
    // ioredis arms this timer even for a socket that is already closed (disconnect while
    // reconnecting), which keeps the process alive for its length: keep it short.
    disconnectTimeout: 300,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
  };
  if (config.tls) {
    base.tls = {
      servername: config.tls.servername,
      rejectUnauthorized: true,
      ...(config.tls.caFile ? { ca: readFileSync(config.tls.caFile) } : {}),
    };
  }
  if (config.sentinels) {
    base.sentinels = config.sentinels.map((s) => ({ host: s.host, port: s.port }));
    base.name = config.sentinelName;
    if (config.tls) {
      base.enableTLSForSentinelMode = true;
    }
    base.sentinelRetryStrategy = reconnectDelay;
    // Follow a failover: when a replica is promoted, ioredis reconnects to the new master.
    base.failoverDetector = true;
  } else {
    base.host = config.host;
    base.port = config.port;
  }
  if (role === 'worker') {
    base.maxRetriesPerRequest = null;
    base.enableReadyCheck = false;
  } else {
    // Bounded: a command waits for at most a couple of reconnect attempts, and for at most
    // commandTimeoutMs overall, so a request handler is never hung by a Redis outage.
    base.maxRetriesPerRequest = 2;
    base.enableReadyCheck = true;
    base.commandTimeout = options.commandTimeoutMs ?? defaultConnectionOptions.commandTimeoutMs;
    // A command whose connection dropped before its reply has already been reported to the caller
    // as failed; re-sending it after the reconnect would enqueue a job the caller retries anyway.
    base.autoResendUnfulfilledCommands = false;
  }
  return { ...base, ...options.redisOptions };
}

/**
 * The ioredis `Cluster` options for a config with `clusterNodes` and a role. Per role, as on a
 * standalone server, plus what only a cluster has:
 * - every node connection gets the role's options (`worker`: `maxRetriesPerRequest: null`, which
 *   BullMQ checks on `redisOptions`; `producer`: bounded retries and `commandTimeoutMs`);
 * - `enableReadyCheck`: `producer` true (ready once `CLUSTER INFO` says `cluster_state:ok`),
 *   `worker` false (as BullMQ asks; commands wait in the offline queue until the slots are known);
 * - `scaleReads: 'master'` for both: BullMQ and the platform's scripts read what they just wrote, and
 *   a replica lags; replicas are for failover here, not for reads;
 * - `clusterRetryStrategy` reconnects forever with the same capped backoff, and a command that hits a
 *   node being failed over is retried every `retryDelayOnFailover` ms (100) up to `maxRedirections`
 *   (16) times, which carries it over a replica promotion of up to a couple of seconds.
 */
export function clusterOptionsFor(config: RedisConfig, options: ConnectionOptions = {}): ClusterOptions {
  const role = options.role ?? defaultConnectionOptions.role;
  const {
    db: _db,
    host: _host,
    port: _port,
    retryStrategy: _retry,
    sentinels: _sentinels,
    name: _name,
    enableReadyCheck: _ready,
    ...node
  } = redisOptionsFor(config, { ...options, redisOptions: undefined });
  return {
    redisOptions: { ...node, ...options.redisOptions } as ClusterOptions['redisOptions'],
    enableReadyCheck: role !== 'worker',
    scaleReads: 'master',
    clusterRetryStrategy: reconnectDelay,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    maxRedirections: 16,
    ...options.clusterOptions,
  };
}

/**
 * Creates an ioredis connection for a role (see {@link ConnectionRole}): a `Cluster` when the config
 * has `clusterNodes` (see {@link clusterOptionsFor}), else a `Redis`.
 *
 * @param config - from {@link loadRedisConfig}; read from the environment when omitted.
 * @example
 * const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
 */
export function createRedisConnection(config?: RedisConfig, options: ConnectionOptions = {}): RedisClient {
  const resolved = config ?? loadRedisConfig();
  const client: RedisClient = resolved.clusterNodes
    ? new Cluster(resolved.clusterNodes.map((node) => ({ host: node.host, port: node.port })), clusterOptionsFor(resolved, options))
    : new Redis(redisOptionsFor(resolved, options));
  if (client instanceof Cluster && (options.role ?? defaultConnectionOptions.role) === 'producer') {
    boundClusterCommands(client, options.commandTimeoutMs ?? defaultConnectionOptions.commandTimeoutMs);
  }
  // Without a listener ioredis prints every reconnect error; commands already surface them.
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/**
 * Arms `commandTimeout` on every command as the `Cluster` takes it, as a standalone `Redis` does.
 * ioredis arms it only when a node's connection sends the command, so one waiting in the Cluster's
 * own offline queue (no node reachable, slots not loaded, the cluster reconnecting) waited for ever.
 */
function boundClusterCommands(cluster: Cluster, timeoutMs: number): void {
  const send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = (command, stream, node) => {
    command.setTimeout(timeoutMs);
    return send(command, stream, node);
  };
}

const shared = new Map<ConnectionRole, RedisClient>();

/**
 * One connection per process and role, created on first use from the environment
 * (or from `config` on that first call). Close them all with {@link closeSharedConnections}.
 */
export function getSharedConnection(role: ConnectionRole = 'producer', config?: RedisConfig): RedisClient {
  let client = shared.get(role);
  if (!client || client.status === 'end') {
    client = createRedisConnection(config, { role, connectionName: `platform:shared-${role}` });
    shared.set(role, client);
  }
  return client;
}

/** Closes every connection made by {@link getSharedConnection} (QUIT, or disconnect if Redis is down). */
export async function closeSharedConnections(): Promise<void> {
  const clients = [...shared.values()];
  shared.clear();
  await Promise.all(clients.map((client) => closeConnection(client)));
}

/**
 * Closes a connection politely (QUIT) when it is up, at once when it is not, and resolves once the
 * client has ended (`status === 'end'`; at most 1 s after the disconnect). Never throws.
 */
export async function closeConnection(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'ready') {
    try {
      await client.quit();
    } catch {
      // fall through to disconnect
    }
  }
  // Also after QUIT: in Sentinel mode this ends the failover detector's sentinel connections,
  // which QUIT leaves open (they would keep the process alive).
  client.disconnect();
  if ((client.status as string) === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
  clearTimeout(timer);
}

/**
 * The one "Redis is down" shape: a connection failure becomes `wrap(message, error)` (by default a
 * {@link RedisUnavailableError}; packages pass their documented subclass), anything else is
 * returned as it is. An error that already is a `RedisUnavailableError` is kept.
 */
export function toUnavailableError(
  error: unknown,
  what: string,
  wrap: (message: string, cause: unknown) => RedisUnavailableError = (message, cause) => new RedisUnavailableError(message, { cause }),
): unknown {
  if (error instanceof RedisUnavailableError || !isConnectionError(error)) return error;
  const reason = error instanceof Error ? error.message : 'unknown error';
  return wrap(`${what}: Redis is unavailable (${reason})`, error);
}

/**
 * Replies with which Redis refuses commands for now, whatever they are: `OOM` (maxmemory reached
 * under noeviction), `READONLY` (a replica, e.g. a master demoted by a failover), `LOADING`,
 * `MISCONF` (persistence failing), `MASTERDOWN`, `NOREPLICAS` (min-replicas-to-write) and `BUSY` (a
 * script running too long). Not `BUSYGROUP` or `BUSYKEY`, which are about the command.
 */
const REFUSED_FOR_NOW = /^(?:OOM|READONLY|LOADING|MISCONF|MASTERDOWN|NOREPLICAS|BUSY) /;

/**
 * True for errors that mean "Redis cannot be reached or cannot serve right now" rather than "the
 * command is wrong": connection failures and timeouts, a Redis that refuses every write for now
 * (`OOM` with noeviction, `READONLY`, `LOADING`, `MISCONF`, `MASTERDOWN`, `NOREPLICAS`, `BUSY`; also
 * a MULTI discarded for one of these, `EXECABORT`), and on a cluster a slot whose master is being
 * failed over (redirections exhausted, CLUSTERDOWN).
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof RedisUnavailableError) return true;
  if (REFUSED_FOR_NOW.test(error.message)) return true;
  // ioredis keeps the errors of the commands queued in a discarded MULTI.
  const previous = (error as { previousErrors?: unknown }).previousErrors;
  if (error.message.startsWith('EXECABORT') && Array.isArray(previous)) {
    return previous.some((cause) => cause instanceof Error && REFUSED_FOR_NOW.test(cause.message));
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)) {
    return true;
  }
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Command timed out|Stream isn't writeable|connect ETIMEDOUT|ECONNREFUSED|enableOfflineQueue|Too many Cluster redirections|CLUSTERDOWN|Failed to refresh slots cache/i.test(error.message)
  );
}
