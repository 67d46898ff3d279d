// Shared by this package's tests (not exported from index.ts): one private PostgreSQL per test
// file, a fresh schema per test.
import { randomUUID } from 'node:crypto';
import { startPostgresServer, type PostgresServer } from '@platform/testing';
import { Pool, type PoolClient } from 'pg';
import { migrateOutbox } from './migrate';

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
