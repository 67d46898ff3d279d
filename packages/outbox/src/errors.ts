import { PlatformError, type PlatformErrorOptions } from '@platform/redis';

/**
 * PostgreSQL refused or failed an outbox statement (migrations, relay, send log). `operation`
 * names what was being done; `cause` is the driver's error (its message never holds a password).
 */
export class OutboxDatabaseError extends PlatformError {
  /** What was being done, e.g. `migrate` or `enqueueInTransaction`. */
  readonly operation: string;

  constructor(operation: string, message: string, options?: PlatformErrorOptions) {
    super('OUTBOX_DATABASE_ERROR', `outbox ${operation}: ${message}`, options);
    this.operation = operation;
  }
}

/** Wraps a driver error in {@link OutboxDatabaseError} (platform errors pass through unchanged). */
export function toDatabaseError(operation: string, error: unknown): Error {
  if (error instanceof PlatformError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new OutboxDatabaseError(operation, message, { cause: error });
}
