import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Listens on `port` at 127.0.0.1 (0: one the OS picks) and closes again: the port it got, or `undefined` when it could not. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function findFreePort(): Promise<number> {
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** Whether `port` can be listened on at 127.0.0.1 right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return (await listenOnce(port)) !== undefined;
}

/** How far above its port a cluster node listens for its cluster bus (fixed by Redis). */
export const CLUSTER_BUS_PORT_OFFSET = 10_000;

/** The lowest port of the OS's ephemeral range, from which it picks ports for `listen(0)` and outgoing connections. */
function ephemeralPortFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A port for a Redis Cluster node: free on 127.0.0.1 together with its cluster bus port
 * ({@link CLUSTER_BUS_PORT_OFFSET} above). A port from {@link findFreePort} does not do: with
 * Linux's default range the OS hands out ports up to 60999, and a node on a port above 55535 has
 * no valid bus port, so `redis-server` exits at start. Both ports are picked below the OS's
 * ephemeral range where it has room (from 32768: ports 10000-22767, bus ports 20000-32767), so no
 * outgoing connection of this or another process can take them between this check and the
 * server's start.
 */
export async function findFreeClusterPort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralPortFloor() - CLUSTER_BUS_PORT_OFFSET;
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = high > low ? low + Math.floor(Math.random() * (high - low)) : await findFreePort();
    if (port + CLUSTER_BUS_PORT_OFFSET > 65_535) continue;
    if ((await isPortFree(port)) && (await isPortFree(port + CLUSTER_BUS_PORT_OFFSET))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node (port and port + 10000) after 200 tries');
}

/** True when a `redis-server` binary is on PATH (or at `binary`). */
export function redisServerAvailable(binary = 'redis-server'): boolean {
  const result = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return result.status === 0;
}

/** Options of {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Port to listen on. @defaultValue a free port */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Working directory (for AOF/RDB files). @defaultValue a new temporary directory, removed on stop */
  dir?: string;
  /** The binary. @defaultValue `redis-server` */
  binary?: string;
  /** How long to wait for the server to answer PING. @defaultValue `10000` */
  startTimeoutMs?: number;
}

/** A `redis-server` process started by {@link startRedisServer}. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** PID of the running process (changes after {@link RedisServer.restart}). */
  readonly pid: number;
  readonly dir: string;
  /** Sends SIGTERM (or `signal`) to the PID and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL: the server dies without saving, as in a crash. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory with the same arguments (also after `stop`). */
  restart(): Promise<void>;
}

/**
 * Sends `PING` over a raw TCP socket. Resolves true on `+PONG`, or on any RESP answer when
 * `anyAnswer` is set (a password-protected server answers `-NOAUTH`, which still means "a Redis").
 */
export function pingRedis(port: number, options: { host?: string; timeoutMs?: number; anyAnswer?: boolean } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(options.timeoutMs ?? 500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(options.anyAnswer ? /^[+-]/.test(data.toString()) : data.toString().startsWith('+PONG')));
    socket.connect(port, options.host ?? '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private `redis-server` on 127.0.0.1 (no persistence unless `args` ask for it) and waits
 * until it answers. Stop it with `stop()`; it is also killed if this process exits.
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await findFreePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'platform-redis-'));
  const binary = options.binary ?? 'redis-server';
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  let stopped = false;

  const killOnExit = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };

  const launch = async () => {
    mkdirSync(dir, { recursive: true });
    // redis-server writes its log, start-up refusals included, to stdout: the last few KB of both
    // streams go into the error of a server that exits at start.
    child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4096));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}: ${output.trim()}`);
      const ok = await Promise.race([pingRedis(port), spawnError]);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port} within ${options.startTimeoutMs ?? 10_000} ms`);
  };

  await launch();
  process.once('exit', killOnExit);

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid ?? -1;
    },
    dir,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!stopped) {
        stopped = true;
        process.removeListener('exit', killOnExit);
      }
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await waitForExit(child);
      }
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitForExit(child);
      }
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitForExit(child);
      }
      await launch();
    },
  };
  return server;
}
