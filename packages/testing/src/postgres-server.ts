import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './redis-server';
import { isProcessAlive } from './helpers';

/** Options of {@link startPostgresServer}. */
export interface StartPostgresServerOptions {
  /** Port to listen on (127.0.0.1 only). @defaultValue a free port */
  port?: number;
  /** Directory holding `initdb` and `pg_ctl`. @defaultValue found by {@link findPostgresBinDir} */
  binDir?: string;
  /** How long `pg_ctl start` may wait for the server to accept connections. @defaultValue `60` (seconds) */
  startTimeoutSeconds?: number;
}

/** A private PostgreSQL cluster started by {@link startPostgresServer}. */
export interface PostgresServer {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, no password). */
  readonly url: string;
  /** The Unix socket directory (also private). */
  readonly socketDir: string;
  /** The data directory (removed by `stop`). */
  readonly dataDir: string;
  /** PID of the postmaster, read from `postmaster.pid`. */
  readonly pid: number;
  /** Signals the PID (SIGTERM, then SIGINT, then SIGQUIT if it lingers), waits for it to exit, removes both directories. */
  stop(): Promise<void>;
}

/**
 * The directory of `initdb`/`pg_ctl`: `PG_BIN_DIR` when set, else the newest
 * `/usr/lib/postgresql/<version>/bin` that has both, else `undefined`.
 */
export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  if (env.PG_BIN_DIR) return has(env.PG_BIN_DIR) ? env.PG_BIN_DIR : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (has(dir)) return dir;
  }
  return undefined;
}

/** True when a PostgreSQL server can be started here ({@link findPostgresBinDir} finds the binaries). */
export function postgresAvailable(): boolean {
  return findPostgresBinDir() !== undefined;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary; as root through `runuser -u postgres` (initdb and postgres refuse root). */
function runAsOwner(binary: string, args: string[], timeoutMs: number): SpawnSyncReturns<string> {
  const [command, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  return spawnSync(command, argv as string[], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function ensureOk(result: SpawnSyncReturns<string>, what: string): void {
  if (result.error) throw new Error(`${what} failed: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what} exited with ${result.status}: ${(result.stderr || result.stdout).trim()}`);
}

/** Hands a directory to the `postgres` user when running as root. */
function giveToOwner(dir: string): void {
  if (!isRoot()) return;
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0 || gid.status !== 0) throw new Error('running as root, but there is no "postgres" user to run PostgreSQL as');
  chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}

function readPid(dataDir: string): number {
  const text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`postmaster.pid in ${dataDir} holds no PID`);
  return pid;
}

/**
 * Starts a private PostgreSQL: `initdb` into a new temporary directory, then `pg_ctl start` on
 * 127.0.0.1 and a free port, with its Unix socket in another temporary directory (never the
 * machine's server or socket). As root, both run as the `postgres` user. `stop()` signals the PID
 * in `postmaster.pid`, waits for it to exit and removes both directories.
 */
export async function startPostgresServer(options: StartPostgresServerOptions = {}): Promise<PostgresServer> {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!binDir) throw new Error('PostgreSQL binaries not found (install Debian\'s "postgresql" or set PG_BIN_DIR)');
  const port = options.port ?? (await findFreePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'platform-pg-data-'));
  const socketDir = mkdtempSync(join(tmpdir(), 'platform-pg-sock-'));
  chmodSync(dataDir, 0o700);
  giveToOwner(dataDir);
  giveToOwner(socketDir);
  const cleanup = () => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(socketDir, { recursive: true, force: true });
  };
  try {
    ensureOk(
      runAsOwner(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], 120_000),
      'initdb',
    );
    const serverOptions = [
      `-p ${port}`,
      `-k ${socketDir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    const timeout = options.startTimeoutSeconds ?? 60;
    ensureOk(
      runAsOwner(join(binDir, 'pg_ctl'), ['-D', dataDir, '-o', serverOptions, '-l', join(dataDir, 'server.log'), '-t', String(timeout), '-w', 'start'], (timeout + 10) * 1000),
      'pg_ctl start',
    );
  } catch (error) {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      try {
        process.kill(readPid(dataDir), 'SIGKILL');
      } catch {
        // not running
      }
    }
    cleanup();
    throw error;
  }
  const pid = readPid(dataDir);
  const killOnExit = () => {
    if (isProcessAlive(pid)) process.kill(pid, 'SIGQUIT');
  };
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    socketDir,
    dataDir,
    pid,
    stop() {
      stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        // SIGTERM first ("smart": waits for sessions to end). A pg pool's end() resolves before its
        // sockets close; a fast shutdown at that moment would hand those clients a FATAL error.
        // Then SIGINT ("fast": ends the sessions), then SIGQUIT.
        const waitExit = async (ms: number) => {
          const deadline = Date.now() + ms;
          while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
          return !isProcessAlive(pid);
        };
        for (const [signal, ms] of [['SIGTERM', 5_000], ['SIGINT', 20_000], ['SIGQUIT', 10_000]] as const) {
          if (!isProcessAlive(pid)) break;
          process.kill(pid, signal);
          if (await waitExit(ms)) break;
        }
        cleanup();
      })();
      return stopped;
    },
  };
}
