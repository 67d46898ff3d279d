import { closeConnection, createRedisConnection, loadRedisConfig, type RedisClient, type RedisConfig } from '@platform/redis';
import { defaultPrefix, listQueues } from '@platform/ops';
import { listProviderHealth, type ProviderHealth } from '@platform/notifications';
import { InvalidArgumentError, resolveKeyPrefix } from '@platform/redis';

/** A `--queue` that names no queue under the prefix; `known` lists those that exist. */
export class UnknownQueueError extends InvalidArgumentError {
  constructor(
    readonly queue: string,
    readonly prefix: string,
    readonly known: readonly string[],
  ) {
    super('--queue', `no queue "${queue}" under prefix "${prefix}"; ${known.length ? `known queues: ${known.join(', ')}` : 'no queues there (wrong REDIS_URL, REDIS_KEY_PREFIX or --prefix?)'}`);
  }
}

/**
 * `text` with every control character but tab and newline written as `\u00XX`: tenant ids, job
 * names and failure reasons come from Redis, and an escape sequence among them must not drive the
 * operator's terminal. JSON output is unchanged (JSON.stringify already escapes C0 characters,
 * and `\u0080`-`\u009f` mean the same characters in a JSON string).
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Where the CLI writes and what it reads; replaced in tests that call `main` in-process. */
export interface CliIo {
  /** Writes to standard output (text is written as given). @defaultValue `process.stdout.write` */
  stdout: (text: string) => void;
  /** Writes to standard error. @defaultValue `process.stderr.write` */
  stderr: (text: string) => void;
  /** Environment read by `loadRedisConfig`. @defaultValue `process.env` */
  env: NodeJS.ProcessEnv;
  /** Whether standard output is a terminal (clears the screen in `--watch`). @defaultValue `process.stdout.isTTY` */
  stdoutIsTTY: boolean;
  /** Whether standard error is a terminal (redraws the progress bar in place). @defaultValue `process.stderr.isTTY` */
  stderrIsTTY: boolean;
}

/** Per-run state shared by the commands: the IO, the Redis config and one lazily opened connection. */
export class CliContext {
  exitCode = 0;
  /** `--json` was given: output, and errors, are JSON documents on stdout. */
  json = false;
  /** The last error the connection reported (e.g. ECONNREFUSED), more telling than a command's own error. */
  lastConnectionError: Error | undefined;
  private connection: RedisClient | undefined;
  private resolvedConfig: RedisConfig | undefined;

  constructor(readonly io: CliIo) {}

  /** The Redis config from the environment (throws ConfigError naming the variable). */
  get config(): RedisConfig {
    this.resolvedConfig ??= loadRedisConfig(this.io.env);
    return this.resolvedConfig;
  }

  /** The command's Redis connection (producer role: fails fast while Redis is down). */
  redis(): RedisClient {
    this.connection ??= createRedisConnection(this.config, {
      role: 'producer',
      connectionName: 'platform:cli',
      onError: (error) => {
        this.lastConnectionError = error;
      },
    });
    return this.connection;
  }

  /**
   * Checks that `name` is a queue under `prefix` (platform or plain BullMQ); otherwise throws an
   * {@link UnknownQueueError} listing the queues there (exit code 2).
   */
  async assertKnownQueue(name: string, prefix: string): Promise<void> {
    const known = (await listQueues(this.redis(), { prefix })).map((q) => q.name);
    if (!known.includes(name)) throw new UnknownQueueError(name, prefix, known);
  }

  /** The notification providers' circuit breakers under `REDIS_KEY_PREFIX`. */
  providerHealth(): Promise<ProviderHealth[]> {
    return listProviderHealth({ connection: this.redis(), keyPrefix: resolveKeyPrefix(undefined, this.io.env) });
  }

  /** `--prefix` when given, else the platform's default from the environment (`REDIS_KEY_PREFIX`). */
  bullPrefix(option: string | undefined): string {
    return option ?? defaultPrefix(this.io.env);
  }

  out(line = ''): void {
    this.io.stdout(`${printable(line)}\n`);
  }

  err(line = ''): void {
    this.io.stderr(`${printable(line)}\n`);
  }

  async close(): Promise<void> {
    if (this.connection) await closeConnection(this.connection);
    this.connection = undefined;
  }
}

/** Resolves after `ms`, or at once when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** An AbortSignal that fires on SIGINT/SIGTERM; `dispose` removes the listeners. */
export function signalOnInterrupt(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}
