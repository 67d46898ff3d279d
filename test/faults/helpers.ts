// Shared plumbing of the fault suite: sizes, child processes (killed by PID), raw redis-server
// processes for Sentinel and TLS, a TCP proxy that can cut every connection, waiting helpers, and
// the set-up most scenarios share (a private Redis, its connections, the fixtures' queue, teardown).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createRedisConnection,
  defineQueue,
  loadRedisConfig,
  type DefineQueueOptions,
  type QueueDefinition,
  type RedisConfig,
} from '@platform/queue';
import { closeConnection, type RedisClient } from '@platform/redis';
import { pingRedis, startRedisServer, type RedisServer } from '@platform/testing';

/** `FAULTS=full` selects the sizes of the issue; otherwise lean sizes for `npm test`. */
export const FULL = process.env.FAULTS === 'full';

/** Picks the full or the reduced size. */
export function size(full: number, reduced: number): number {
  return FULL ? full : reduced;
}

/** Timeout for each fault test (the machine is shared: be generous). */
export const FAULT_TEST_TIMEOUT_MS = FULL ? 900_000 : 240_000;

export const FIXTURES = join(__dirname, 'fixtures');

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `platform-faults-${label}-`));
}

/** Sends a signal to a PID, ignoring "no such process". */
export function killPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** A child process started by {@link startFixture}. */
export interface Fixture {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The `ready` message the child sent. */
  readonly ready: Record<string, unknown>;
  /** The last lines the child wrote to stdout/stderr (for diagnostics). */
  output(): string;
  /** Resolves when the child exits. */
  readonly exited: Promise<void>;
  /** SIGKILL by PID and wait for the exit. */
  kill(): Promise<void>;
  /** Sends a message over IPC and waits for a reply whose `type` equals `replyType`. */
  request<T>(message: Record<string, unknown>, replyType: string, timeoutMs?: number): Promise<T>;
}

/**
 * Starts `fixtures/<name>.js` with `node`, with IPC, and waits for its `{ type: 'ready' }` message.
 * The environment is the test's, plus `env` (pass REDIS_URL and the like there).
 */
export async function startFixture(name: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<Fixture> {
  const child = spawn(process.execPath, [join(FIXTURES, `${name}.js`)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let readyMessage: Record<string, unknown> = {};
  const fixture: Fixture = {
    pid: child.pid ?? -1,
    child,
    get ready() {
      return readyMessage;
    },
    output: () => output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) killPid(child.pid, 'SIGKILL');
      await exited;
    },
    request<T>(message: Record<string, unknown>, replyType: string, timeoutMs = 60_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`fixture ${name}: no ${replyType} within ${timeoutMs} ms\n${output}`));
        }, timeoutMs);
        const onMessage = (reply: unknown) => {
          if (reply && typeof reply === 'object' && (reply as { type?: unknown }).type === replyType) {
            clearTimeout(timer);
            child.off('message', onMessage);
            resolve(reply as T);
          }
        };
        child.on('message', onMessage);
        child.send(message);
      });
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      killPid(child.pid);
      reject(new Error(`fixture ${name} not ready within ${readyTimeoutMs} ms:\n${output}`));
    }, readyTimeoutMs);
    child.on('message', (message: unknown) => {
      if (message && typeof message === 'object' && (message as { type?: unknown }).type === 'ready') {
        clearTimeout(timer);
        readyMessage = message as Record<string, unknown>;
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`fixture ${name} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  return fixture;
}

/** A `redis-server` process started with arbitrary arguments (Sentinel, TLS). */
export interface RawRedis {
  readonly pid: number;
  readonly port: number;
  output(): string;
  kill(): Promise<void>;
}

/**
 * Starts `redis-server ...args` (for configurations {@link startRedisServer} cannot express: a
 * config file first, `--sentinel`, `--port 0` with TLS) and waits until `ready()` resolves true.
 * Fails loudly, with the server's output, when the server exits or never becomes ready.
 */
export async function startRawRedis(args: string[], port: number, ready: () => Promise<boolean>, timeoutMs = 20_000): Promise<RawRedis> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => killPid(child.pid);
  process.once('exit', onExit);
  const server: RawRedis = {
    pid: child.pid ?? -1,
    port,
    output: () => output,
    async kill() {
      process.removeListener('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        killPid(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server ${args.join(' ')} exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
    }
    if (await ready().catch(() => false)) return server;
    await sleep(100);
  }
  await server.kill();
  throw new Error(`redis-server ${args.join(' ')} not ready within ${timeoutMs} ms:\n${output}`);
}

/** Raw PING over plain TCP: true on +PONG. */
export function pingPort(port: number, timeoutMs = 500): Promise<boolean> {
  return pingRedis(port, { timeoutMs });
}

/**
 * A TCP proxy on 127.0.0.1 in front of a Redis port. `cut()` destroys every open connection and
 * stops listening (new connections are refused); `restore()` listens again on the same port.
 */
export class CutProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  cuts = 0;

  private constructor(readonly port: number, private readonly targetPort: number) {}

  static async start(port: number, targetPort: number): Promise<CutProxy> {
    const proxy = new CutProxy(port, targetPort);
    await proxy.listen();
    return proxy;
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
      upstream.connect(this.targetPort, '127.0.0.1', () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Drops every connection and refuses new ones until {@link restore}. */
  async cut(): Promise<void> {
    this.cuts += 1;
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  async restore(): Promise<void> {
    if (!this.server) await this.listen();
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** Polls `check` until it returns true; throws with `describe()` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> | string, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms: ${await describe()}`);
}

/**
 * Waits until `value()` has not changed for `quietMs` (or `done()` is true), e.g. "no job is
 * processed any more". Returns the last value.
 */
export async function untilStable(value: () => Promise<number>, quietMs: number, timeoutMs: number, done?: () => Promise<boolean>): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = await value();
  let since = Date.now();
  while (Date.now() < deadline) {
    if (done && (await done().catch(() => false))) return value();
    await sleep(250);
    const now = await value().catch(() => last);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return last;
    }
  }
  return last;
}

/** The job ids the worker fixtures recorded as done (one HSETNX per job id: the idempotent effect). */
export async function effectIds(redis: RedisClient, prefix: string): Promise<Set<string>> {
  return new Set(await redis.hkeys(`${prefix}:effects`));
}

/** What the worker fixtures counted: handler runs, effects applied, duplicate effects refused. */
export async function effectCounts(redis: RedisClient, prefix: string): Promise<{ runs: number; effects: number; repeats: number }> {
  const [runs, effects, repeats] = await Promise.all([
    redis.hlen(`${prefix}:runs`),
    redis.hlen(`${prefix}:effects`),
    redis.hlen(`${prefix}:repeats`),
  ]);
  return { runs, effects, repeats };
}

/** Ids in `expected` that are not in `seen`. */
export function missing(expected: Iterable<string>, seen: Set<string>): string[] {
  const out: string[] = [];
  for (const id of expected) if (!seen.has(id)) out.push(id);
  return out;
}

/** When each job id completed (ms, from the fixtures' `completed` events), sorted, per job id. */
export async function completionTimes(redis: RedisClient, prefix: string): Promise<Map<string, number[]>> {
  const perJob = new Map<string, number[]>();
  for (const [field, at] of Object.entries(await redis.hgetall(`${prefix}:completions`))) {
    const jobId = field.slice(0, field.lastIndexOf('|'));
    const times = perJob.get(jobId) ?? [];
    times.push(Number(at));
    perJob.set(jobId, times);
  }
  for (const times of perJob.values()) times.sort((a, b) => a - b);
  return perJob;
}

/** How many job ids completed more than once (from the fixtures' `completed` events). */
export async function duplicateCompletions(redis: RedisClient, prefix: string): Promise<number> {
  return [...(await completionTimes(redis, prefix)).values()].filter((times) => times.length > 1).length;
}

/** The environment of a worker fixture. */
export function workerEnv(redisEnv: Record<string, string>, prefix: string, queue: string, extra: Record<string, string | number> = {}): Record<string, string> {
  const env: Record<string, string> = { ...redisEnv, FAULT_PREFIX: prefix, FAULT_QUEUE: queue };
  for (const [k, v] of Object.entries(extra)) env[k] = String(v);
  return env;
}

/** SIGKILLs every fixture of the set still running, and empties the set (afterAll / finally). */
export async function killAll(fixtures: Set<Fixture>): Promise<void> {
  await Promise.all([...fixtures].map((f) => f.kill()));
  fixtures.clear();
}

/** The payload of the worker fixtures' jobs (fixtures/worker.js defines the same schema). */
export const faultJobSchema = z.object({ n: z.number().int() });

/** What a scenario started, for {@link closeAll}; absent entries (a failed beforeAll) are skipped. */
export interface Held {
  /** Child processes: SIGKILLed by PID ({@link killAll}). */
  fixtures?: Set<Fixture>;
  /** In-process BullMQ workers: closed without waiting for their jobs. */
  workers?: Iterable<{ close(force?: boolean): Promise<void> } | undefined>;
  /** Queue definitions (their BullMQ `Queue`s). */
  definitions?: Iterable<{ close(): Promise<void> } | undefined>;
  /** Redis connections, closed after the queues and workers that use them. */
  clients?: Iterable<RedisClient | undefined>;
  /** Servers, last: a `RedisServer` is stopped with SIGKILL (its temporary directory removed), a `RawRedis` killed. */
  servers?: Iterable<RedisServer | RawRedis | undefined>;
}

/**
 * Ends everything in `held`, in dependency order: fixtures, workers, definitions, connections,
 * servers. Every step runs even when an earlier one fails, and it never throws (afterAll).
 */
export async function closeAll(held: Held): Promise<void> {
  const settle = async <T>(items: Iterable<T | undefined> | undefined, end: (item: T) => Promise<void>) => {
    await Promise.allSettled([...(items ?? [])].flatMap((item) => (item === undefined ? [] : [end(item)])));
  };
  if (held.fixtures) await killAll(held.fixtures).catch(() => {});
  await settle(held.workers, (worker) => worker.close(true));
  await settle(held.definitions, (definition) => definition.close());
  await settle(held.clients, (client) => closeConnection(client));
  await settle(held.servers, (server) => ('stop' in server ? server.stop('SIGKILL') : server.kill()));
}

/** Options of {@link faultEnvironment}. */
export interface FaultEnvironmentOptions {
  /** The queue is `faults__<name>`; also the worker fixtures' `FAULT_QUEUE`. */
  name: string;
  /** Prefix of the fixtures' bookkeeping keys (`FAULT_PREFIX`: `<prefix>:effects`, `:runs`, ...). */
  prefix: string;
  /** Further `defineQueue` options (`enqueueTimeoutMs`, `onError`, ...). @defaultValue none */
  queueOptions?: Omit<DefineQueueOptions<typeof faultJobSchema>, 'namespace' | 'name' | 'schema' | 'connection'>;
  /** Extra `redis-server` arguments, e.g. AOF settings. @defaultValue none */
  serverArgs?: string[];
  /**
   * The URL the producer and the worker fixtures use instead of the server's, e.g. a proxy put in
   * front of `server` here. `redis` always talks to the server directly.
   * @defaultValue the server's URL
   */
  clientUrl?: (server: RedisServer) => string | Promise<string>;
}

/** A private Redis with the connections and the queue most fault scenarios use. */
export interface FaultEnvironment {
  /** The private `redis-server` (kill or restart it to inject a fault). */
  readonly server: RedisServer;
  /** `loadRedisConfig` of the server's URL. */
  readonly config: RedisConfig;
  /** A `worker`-role connection straight to the server, to read what the fixtures recorded. */
  readonly redis: RedisClient;
  /** The `producer`-role connection of `definition` (to `clientUrl` when given). */
  readonly producer: RedisClient;
  /** `faults__<name>`, the queue the worker fixtures consume. */
  readonly definition: QueueDefinition<typeof faultJobSchema>;
  /** Worker fixtures, SIGKILLed by {@link FaultEnvironment.close}; {@link FaultEnvironment.startWorker} adds to it. */
  readonly workers: Set<Fixture>;
  /** A worker fixture's environment: `REDIS_URL` (the client URL), `FAULT_PREFIX`, `FAULT_QUEUE`, plus `extra`. */
  env(extra?: Record<string, string | number>): Record<string, string>;
  /** Starts `fixtures/worker.js` with `env` and adds it to `workers`. */
  startWorker(env: Record<string, string>): Promise<Fixture>;
  /** Kills the workers by PID, closes the queue and both connections, stops the server; never throws. */
  close(): Promise<void>;
}

/**
 * Starts a private `redis-server`, a `worker`-role reader and a `producer` connection, and defines
 * `faults__<name>` with {@link faultJobSchema} on the producer. Close it in afterAll.
 */
export async function faultEnvironment(options: FaultEnvironmentOptions): Promise<FaultEnvironment> {
  const server = await startRedisServer({ args: options.serverArgs });
  const config = loadRedisConfig({ REDIS_URL: server.url });
  const redis = createRedisConnection(config, { role: 'worker' });
  let producer: RedisClient | undefined;
  try {
    const url = options.clientUrl ? await options.clientUrl(server) : server.url;
    producer = createRedisConnection(url === server.url ? config : loadRedisConfig({ REDIS_URL: url }), { role: 'producer' });
    const definition = defineQueue({ ...options.queueOptions, namespace: 'faults', name: options.name, schema: faultJobSchema, connection: producer });
    const workers = new Set<Fixture>();
    const held = { fixtures: workers, definitions: [definition], clients: [producer, redis], servers: [server] };
    return {
      server,
      config,
      redis,
      producer,
      definition,
      workers,
      env: (extra = {}) => workerEnv({ REDIS_URL: url }, options.prefix, options.name, extra),
      async startWorker(env) {
        const worker = await startFixture('worker', env);
        workers.add(worker);
        return worker;
      },
      close: () => closeAll(held),
    };
  } catch (error) {
    await closeAll({ clients: [producer, redis], servers: [server] });
    throw error;
  }
}
