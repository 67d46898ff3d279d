import { migrateOutbox, OutboxDatabaseError } from '@platform/outbox';
import { ConfigError } from '@platform/redis';
import { redactUrlPassword } from '@platform/redis/internal';
import type { Command } from 'commander';
import { Pool } from 'pg';
import type { CliContext } from '../context';

/** Options of `platform outbox migrate`. */
export interface OutboxMigrateCommandOptions {
  schema?: string;
  databaseUrl?: string;
  json?: boolean;
}

/** `platform outbox migrate`: applies the outbox's SQL migrations to `DATABASE_URL` (one transaction, idempotent). */
export async function outboxMigrateCommand(ctx: CliContext, options: OutboxMigrateCommandOptions): Promise<void> {
  const url = options.databaseUrl ?? ctx.io.env.DATABASE_URL;
  if (!url) throw new ConfigError('DATABASE_URL', 'is not set (or pass --database-url)');
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError('DATABASE_URL', `must be a postgres:// URL, got ${redactUrlPassword(url)}`);
  const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  try {
    let result;
    try {
      result = await migrateOutbox(pool, options.schema === undefined ? {} : { schema: options.schema });
    } catch (error) {
      // Reported here: the CLI's generic handler would take a connection error for Redis's.
      if (!(error instanceof OutboxDatabaseError)) throw error;
      ctx.err(`platform: ${error.name} at ${redactUrlPassword(url)}: ${error.message}`);
      ctx.exitCode = 1;
      return;
    }
    if (options.json) {
      ctx.out(JSON.stringify({ database: redactUrlPassword(url), ...result }));
    } else {
      ctx.out(`platform outbox migrate: ${redactUrlPassword(url)}, schema ${result.schema}`);
      ctx.out(
        result.applied.length === 0
          ? `up to date (versions ${result.alreadyApplied.join(', ')})`
          : `applied versions ${result.applied.join(', ')}${result.alreadyApplied.length ? ` (already there: ${result.alreadyApplied.join(', ')})` : ''}`,
      );
    }
  } finally {
    await pool.end();
  }
}

/** Adds `platform outbox migrate` to the program. */
export function registerOutboxCommand(program: Command, ctx: CliContext): void {
  const outbox = program.command('outbox').description('the PostgreSQL outbox of @platform/outbox');
  outbox
    .command('migrate')
    .description('create or update the outbox tables (idempotent, one transaction); reads DATABASE_URL')
    .option('--schema <name>', 'PostgreSQL schema of the outbox tables', 'platform_outbox')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .option('--json', 'print the result as JSON')
    .action((opts: OutboxMigrateCommandOptions) => outboxMigrateCommand(ctx, opts));
}
