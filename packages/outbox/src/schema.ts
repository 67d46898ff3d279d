import { describeValue, InvalidArgumentError } from '@platform/redis';

/** The PostgreSQL schema the outbox tables live in unless told otherwise. */
export const DEFAULT_OUTBOX_SCHEMA = 'platform_outbox';

/** Schema names: a lower-case SQL identifier of at most 48 characters (room for suffixes). */
export const OUTBOX_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,47}$/;

/** Options naming the schema of the outbox tables. */
export interface OutboxSchemaOptions {
  /** PostgreSQL schema of the outbox tables (as given to `migrateOutbox`). @defaultValue `'platform_outbox'` */
  schema?: string;
}

/** A checked schema name with its quoted forms. */
export interface ResolvedSchema {
  readonly name: string;
  /** `"name"`, safe to splice into SQL. */
  readonly ident: string;
  /** The LISTEN/NOTIFY channel of this schema's outbox. */
  readonly channel: string;
  /** `"name".outbox` */
  readonly outbox: string;
  /** `"name".send_log` */
  readonly sendLog: string;
}

/** Checks `schema` against {@link OUTBOX_SCHEMA_PATTERN} (an `InvalidArgumentError` otherwise) and quotes it. */
export function resolveSchema(schema: string | undefined): ResolvedSchema {
  const name: unknown = schema ?? DEFAULT_OUTBOX_SCHEMA;
  if (typeof name !== 'string' || !OUTBOX_SCHEMA_PATTERN.test(name)) {
    throw new InvalidArgumentError('schema', `must match ${OUTBOX_SCHEMA_PATTERN.source}, got ${describeValue(name)}`);
  }
  const ident = `"${name}"`;
  return { name, ident, channel: `${name}_outbox`, outbox: `${ident}.outbox`, sendLog: `${ident}.send_log` };
}
