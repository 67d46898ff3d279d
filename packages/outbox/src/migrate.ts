import type { Pool, PoolClient } from 'pg';
import { toDatabaseError } from './errors';
import { resolveSchema, type OutboxSchemaOptions, type ResolvedSchema } from './schema';
import outboxSql from './sql/001_outbox.sql';
import sendLogSql from './sql/002_send_log.sql';
import traceContextSql from './sql/003_trace_context.sql';

/** One shipped migration. */
export interface OutboxMigration {
  readonly version: number;
  readonly name: string;
  /** The SQL, with `__SCHEMA__` and `__CHANNEL__` placeholders. */
  readonly sql: string;
}

/** The migrations shipped with this package, in order. */
export const OUTBOX_MIGRATIONS: readonly OutboxMigration[] = Object.freeze([
  { version: 1, name: 'outbox', sql: outboxSql },
  { version: 2, name: 'send_log', sql: sendLogSql },
  { version: 3, name: 'trace_context', sql: traceContextSql },
]);

/** What {@link migrateOutbox} did. */
export interface MigrateOutboxResult {
  /** The schema migrated. */
  schema: string;
  /** Versions applied by this call (empty when the schema was up to date). */
  applied: number[];
  /** Versions that were already applied. */
  alreadyApplied: number[];
}

/** The SQL of one migration for one schema. */
export function renderMigration(migration: OutboxMigration, schema: ResolvedSchema): string {
  return migration.sql.replaceAll('__SCHEMA__', schema.ident).replaceAll('__CHANNEL__', `'${schema.channel}'`);
}

// Any constant serializes concurrent migrations of one database; the schema name is hashed in.
const LOCK_NAMESPACE = 0x6f757462; // "outb"

/**
 * Creates or updates the outbox tables in `schema` (created if missing): every shipped migration
 * not yet recorded in `<schema>.outbox_migrations` is applied, all in one transaction under an
 * advisory lock, so a second concurrent call waits and then finds nothing to do, and a failure
 * leaves the database as it was. Safe to run on every deploy.
 *
 * @example
 * await migrateOutbox(pool, { schema: 'platform_outbox' });
 */
export async function migrateOutbox(pool: Pick<Pool, 'connect'>, options: OutboxSchemaOptions = {}): Promise<MigrateOutboxResult> {
  const schema = resolveSchema(options.schema);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toDatabaseError('migrate', error);
  }
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, schema.name]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema.ident}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema.ident}.outbox_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${schema.ident}.outbox_migrations`);
    const already = new Set(done.rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const migration of OUTBOX_MIGRATIONS) {
      if (already.has(migration.version)) continue;
      await client.query(renderMigration(migration, schema));
      await client.query(`INSERT INTO ${schema.ident}.outbox_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { schema: schema.name, applied, alreadyApplied: [...already].sort((a, b) => a - b) };
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw toDatabaseError('migrate', error);
  } finally {
    // A client whose transaction failed is discarded rather than returned to the pool.
    client.release(failed !== undefined);
  }
}
