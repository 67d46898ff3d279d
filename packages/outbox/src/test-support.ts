// Shared by this package's tests (not exported from index.ts): one private PostgreSQL per test
// file, a fresh schema per test.
import { randomUUID } from 'node:crypto';
import type { QueueDefinition } from '@platform/queue';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, startPostgresServer, type PostgresServer } from '@platform/testing';
import { Pool, type PoolClient } from 'pg';
import { migrateOutbox } from './migrate';
import type { OutboxRelay } from './relay';

/** A private PostgreSQL for one test file: `start()` in `beforeAll`, `stop()` in `afterAll`. */
export interface TestDatabase {
  readonly url: string;
  readonly pool: Pool;
  /** A new, migrated schema name (lower-case, unique). */
  freshSchema(): Promise<string>;
  /** Runs `fn` in a transaction on a client of the pool and commits, or rolls back when it throws. */
  transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function startTestDatabase(): Promise<TestDatabase> {
  const server: PostgresServer = await startPostgresServer();
  const pool = new Pool({ connectionString: server.url, max: 20 });
  // An idle client's error (its session ended) must not crash the test file; the next query reconnects.
  pool.on('error', () => undefined);
  return {
    url: server.url,
    pool,
    async freshSchema() {
      const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      await migrateOutbox(pool, { schema });
      return schema;
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
    async stop() {
      await pool.end();
      await server.stop();
    },
  };
}

/** Rows of a schema's outbox by state. */
export async function countRows(pool: Pool, schema: string): Promise<{ total: number; pending: number; moved: number; failed: number }> {
  const result = await pool.query<{ total: string; pending: string; moved: string; failed: string }>(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE moved_at IS NULL AND failed_at IS NULL) AS pending,
            count(*) FILTER (WHERE moved_at IS NOT NULL) AS moved,
            count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
       FROM "${schema}".outbox`,
  );
  const row = result.rows[0]!;
  return { total: Number(row.total), pending: Number(row.pending), moved: Number(row.moved), failed: Number(row.failed) };
}

/** What a test file of this package works with: a private PostgreSQL, a Redis connection, and cleanup. */
export interface OutboxTestContext {
  /** The file's private PostgreSQL (set in `beforeAll`). */
  readonly db: TestDatabase;
  /** A producer connection to the test Redis. */
  readonly redis: ReturnType<typeof createRedisConnection>;
  /** Key prefixes whose keys are deleted after the file. */
  readonly prefixes: string[];
  /** Queue definitions closed after each test. */
  readonly definitions: QueueDefinition[];
  /** Relays stopped after each test. */
  readonly relays: OutboxRelay[];
}

/**
 * Registers the jest hooks every test file of this package needs (database up before, relays and
 * definitions closed after each test, keys and database gone after the file) and returns the context.
 * `afterFile` runs before the Redis connection is closed.
 */
export function useOutboxTestContext(afterFile?: () => Promise<void>): OutboxTestContext {
  let db: TestDatabase | undefined;
  const context: OutboxTestContext = {
    get db() {
      if (!db) throw new Error('the test database starts in beforeAll');
      return db;
    },
    redis: createRedisConnection(loadRedisConfig(), { role: 'producer' }),
    prefixes: [],
    definitions: [],
    relays: [],
  };
  beforeAll(async () => {
    db = await startTestDatabase();
  }, 120_000);
  afterEach(async () => {
    await Promise.all(context.relays.splice(0).map((r) => r.stop()));
    await Promise.all(context.definitions.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await afterFile?.();
    for (const prefix of context.prefixes) await deleteKeysByPrefix(context.redis, prefix);
    context.redis.disconnect();
    await db?.stop();
  });
  return context;
}
