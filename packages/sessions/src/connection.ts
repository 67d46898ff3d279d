import { closeConnection, createRedisConnection, loadRedisConfig, toUnavailableError, type RedisClient, type ScriptClient } from '@platform/redis';
import { SessionStoreUnavailableError } from './errors';

/**
 * The narrowest client the package needs: the scripts, plus `ZRANGE` (a user's sessions), and
 * `SET ... PX`, `GET`, `DEL` (the resume-id cache). Structural, not ioredis's `Redis` class: any
 * ioredis `Redis` or `Cluster` the peer range allows will do. Each command touches one key, so a
 * Cluster works without hash tags.
 */
export interface SessionClient extends ScriptClient {
  zrange(key: string, start: string, stop: string): Promise<string[]>;
  set(key: string, value: string, millisecondsToken: 'PX', milliseconds: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
}

/** A client given by the caller, or one made on first use (and closed by `close()`). */
export interface ClientHolder {
  client(): SessionClient;
  close(): Promise<void>;
}

/** Holds `given`, or creates a producer connection from the environment on first use. */
export function holdClient(given: SessionClient | undefined, connectionName: string): ClientHolder {
  let own: RedisClient | undefined;
  return {
    client() {
      if (given) return given;
      own ??= createRedisConnection(loadRedisConfig(), { role: 'producer', connectionName });
      return own;
    },
    async close() {
      const client = own;
      own = undefined;
      if (client) await closeConnection(client);
    },
  };
}

/**
 * Runs one store operation within `timeoutMs`: a connection failure, or no answer in time, rejects
 * with {@link SessionStoreUnavailableError}; other errors pass through. The operation is not
 * cancelled by the timeout, so a write that timed out may still be applied.
 */
export async function bounded<T>(what: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const operation = run();
  // Settles after a timeout without anyone listening: keep that from being an unhandled rejection.
  operation.catch(() => undefined);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SessionStoreUnavailableError(`${what}: Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation, timeout]);
  } catch (error) {
    throw toUnavailableError(error, what, (message, cause) => new SessionStoreUnavailableError(message, { cause }));
  } finally {
    clearTimeout(timer);
  }
}
