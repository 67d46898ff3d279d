import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
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
    child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr.trim()}`);
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
