import { InvalidArgumentError } from '@platform/redis';
import { migrateOutbox, OUTBOX_MIGRATIONS } from './migrate';
import { OutboxDatabaseError } from './errors';
import { startTestDatabase, type TestDatabase } from './test-support';

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const tablesOf = async (schema: string): Promise<string[]> =>
  (await db.pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema])).rows.map(
    (r) => r.table_name,
  );

const uniqueSchema = (label: string) => `m_${label}_${Math.random().toString(36).slice(2, 10)}`;

test('migrateOutbox creates the schema and tables once; a second run applies nothing', async () => {
  const schema = uniqueSchema('once');
  const first = await migrateOutbox(db.pool, { schema });
  expect(first).toEqual({ schema, applied: OUTBOX_MIGRATIONS.map((m) => m.version), alreadyApplied: [] });
  expect(await tablesOf(schema)).toEqual(['outbox', 'outbox_migrations', 'send_log']);
  const second = await migrateOutbox(db.pool, { schema });
  expect(second).toEqual({ schema, applied: [], alreadyApplied: OUTBOX_MIGRATIONS.map((m) => m.version) });
});

test('concurrent migrations of one schema apply each version exactly once', async () => {
  const schema = uniqueSchema('race');
  const results = await Promise.all([1, 2, 3, 4].map(() => migrateOutbox(db.pool, { schema })));
  const applied = results.flatMap((r) => r.applied);
  expect(applied.sort()).toEqual(OUTBOX_MIGRATIONS.map((m) => m.version).sort());
  const recorded = await db.pool.query(`SELECT version FROM "${schema}".outbox_migrations`);
  expect(recorded.rowCount).toBe(OUTBOX_MIGRATIONS.length);
});

test('a failing migration leaves the database as it was (one transaction)', async () => {
  const schema = uniqueSchema('fail');
  // A function of the trigger's name with another return type makes the first migration fail
  // after it created the outbox table.
  await db.pool.query(`CREATE SCHEMA "${schema}"`);
  await db.pool.query(`CREATE FUNCTION "${schema}".outbox_notify() RETURNS integer LANGUAGE sql AS 'SELECT 1'`);
  await expect(migrateOutbox(db.pool, { schema })).rejects.toBeInstanceOf(OutboxDatabaseError);
  expect(await tablesOf(schema)).toEqual([]);
});

test('a schema name that is not a plain lower-case identifier is refused before any statement', async () => {
  for (const schema of ['Bad', 'a;drop', '1abc', '', 'x'.repeat(49), 'a"b']) {
    await expect(migrateOutbox(db.pool, { schema })).rejects.toBeInstanceOf(InvalidArgumentError);
  }
});

test('the default schema is platform_outbox', async () => {
  const result = await migrateOutbox(db.pool);
  expect(result.schema).toBe('platform_outbox');
  expect(await tablesOf('platform_outbox')).toContain('outbox');
});
