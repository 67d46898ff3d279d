import { startPostgresServer, type PostgresServer } from '@platform/testing';
import { Pool } from 'pg';
import { redactUrlPassword } from '@platform/redis/internal';
import { runMain } from './test-support';

let server: PostgresServer;
let pool: Pool;
beforeAll(async () => {
  server = await startPostgresServer();
  pool = new Pool({ connectionString: server.url, max: 2 });
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

const run = runMain;

test('platform outbox migrate applies the migrations once, into the schema given, and is idempotent', async () => {
  const first = await run(['outbox', 'migrate', '--schema', 'cli_outbox', '--json'], { DATABASE_URL: server.url });
  expect(first).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(first.stdout)).toMatchObject({ schema: 'cli_outbox', applied: [1, 2], alreadyApplied: [] });
  const tables = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'cli_outbox' ORDER BY 1`);
  expect(tables.rows.map((r) => r.table_name)).toEqual(['outbox', 'outbox_migrations', 'send_log']);

  const second = await run(['outbox', 'migrate', '--schema', 'cli_outbox'], { DATABASE_URL: server.url });
  expect(second.code).toBe(0);
  expect(second.stdout).toContain('up to date (versions 1, 2)');
});

test('platform outbox migrate: a missing DATABASE_URL or a bad schema is a usage error; an unreachable database exits 1 without the password', async () => {
  expect(await run(['outbox', 'migrate'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining('DATABASE_URL') });
  expect(await run(['outbox', 'migrate', '--schema', 'Bad-Name'], { DATABASE_URL: server.url })).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('schema'),
  });
  const unreachable = await run(['outbox', 'migrate', '--database-url', 'postgres://app:s3cret@127.0.0.1:1/app'], {});
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain('OutboxDatabaseError');
  expect(unreachable.stderr).not.toContain('s3cret');
  expect(redactUrlPassword('postgres://app:s3cret@db:5432/app')).toBe('postgres://app:***@db:5432/app');
});
