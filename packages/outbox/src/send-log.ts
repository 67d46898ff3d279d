import type { NotificationChannel, NotificationSender, SendContext, SendResult } from '@platform/notifications';
import { checkInteger, InvalidArgumentError, isDeferral } from '@platform/redis';
import type { Pool, PoolClient } from 'pg';
import { toDatabaseError } from './errors';
import { resolveSchema, type OutboxSchemaOptions } from './schema';
import { errorFields, logLine, resolveLogger, type Logger } from '@platform/telemetry';

/** Status of a notification in the send log. */
export type SendLogStatus = 'queued' | 'delivered' | 'failed' | 'expired';

/** One notification in the send log (one per tenant, channel, type and dedupe key). */
export interface SendLogEntry {
  tenantId: string;
  channel: NotificationChannel;
  type: string;
  dedupeKey: string;
  status: SendLogStatus;
  /** The BullMQ job of the last send attempt. */
  jobId: string | null;
  /** The provider's message id, once delivered. */
  providerMessageId: string | null;
  /** Send attempts so far. */
  attempts: number;
  /** The last attempt's error (status `failed`). */
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

/** Options of {@link withSendLog}. */
export interface SendLogOptions extends OutboxSchemaOptions {
  /** The `pg` pool; one connection is held per send in flight (it locks the notification's row). */
  pool: Pick<Pool, 'connect'>;
  /**
   * Called when the log could not be updated after a send the provider accepted (the message is
   * not sent again, and the job completes). @defaultValue an `error` line on `logger` with the job's tenant and id
   */
  onError?: (error: Error) => void;
  /** Where the send log logs (pino's shape). @defaultValue the logger of `configureTelemetry`, else JSON lines on stderr */
  logger?: Logger;
}

interface Row {
  tenant_id: string;
  channel: NotificationChannel;
  type: string;
  dedupe_key: string;
  status: SendLogStatus;
  job_id: string | null;
  provider_message_id: string | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

const toEntry = (row: Row): SendLogEntry => ({
  tenantId: row.tenant_id,
  channel: row.channel,
  type: row.type,
  dedupeKey: row.dedupe_key,
  status: row.status,
  jobId: row.job_id,
  providerMessageId: row.provider_message_id,
  attempts: Number(row.attempts),
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  deliveredAt: row.delivered_at,
});

/**
 * Wraps a notification sender with the send log: before sending, it locks the notification's row
 * (tenant, channel, type, dedupe key) and, if the log has it as `delivered`, returns the logged
 * provider id without calling the provider, however long ago that was (the Redis dedupe window
 * does not matter). Otherwise it sends and records `delivered` (with the provider id) or `failed`
 * (with the error, which is then rethrown for the worker's retry rules) in the same transaction; a
 * deferral (`isDeferral`: a rate limit, an open circuit) is rethrown and leaves the entry as it was.
 * Two workers sending the same notification at once are serialized by the row lock.
 *
 * @example
 * createNotificationWorker('email', withSendLog(createWebhookSender({ url }), { pool }));
 */
export function withSendLog<C extends NotificationChannel>(sender: NotificationSender<C>, options: SendLogOptions): NotificationSender<C> {
  if (typeof sender?.send !== 'function') throw new InvalidArgumentError('sender', 'must have a send(message, context) function');
  if (typeof options?.pool?.connect !== 'function') throw new InvalidArgumentError('pool', 'must be a pg Pool');
  const schema = resolveSchema(options.schema);
  const logger = resolveLogger(options.logger);
  const report = (error: Error, context: SendContext): void => {
    if (options.onError) options.onError(error);
    else logLine(logger, 'error', { component: 'outbox send log', tenantId: context.tenantId, jobId: context.jobId, channel: context.channel, ...errorFields(error) }, 'send log not updated');
  };
  return {
    async send(message, context: SendContext): Promise<SendResult> {
      const key = [context.tenantId, context.channel, context.type, context.dedupeKey];
      let client: PoolClient;
      try {
        client = await options.pool.connect();
      } catch (error) {
        throw toDatabaseError('send log', error);
      }
      let broken = false;
      try {
        let logged: Row | undefined;
        try {
          await client.query('BEGIN');
          // Inserted when missing (a job not written through the outbox), locked either way.
          const result = await client.query<Row>(
            `INSERT INTO ${schema.sendLog} (tenant_id, channel, type, dedupe_key, status, job_id)
             VALUES ($1, $2, $3, $4, 'queued', $5)
             ON CONFLICT (tenant_id, channel, type, dedupe_key) DO UPDATE SET updated_at = ${schema.sendLog}.updated_at
             RETURNING *`,
            [...key, context.jobId],
          );
          logged = result.rows[0];
        } catch (error) {
          broken = true;
          throw toDatabaseError('send log', error);
        }
        if (logged?.status === 'delivered') {
          try {
            await client.query('COMMIT');
          } catch (error) {
            broken = true;
            throw toDatabaseError('send log', error);
          }
          return { providerMessageId: logged.provider_message_id ?? '' };
        }
        let sent: SendResult;
        try {
          sent = await sender.send(message, context);
        } catch (error) {
          // A deferral (rate limit, open circuit) is no attempt: the worker runs the job later without spending one.
          const recorded = isDeferral(error)
            ? Promise.resolve()
            : client.query(
                `UPDATE ${schema.sendLog} SET status = 'failed', attempts = attempts + 1, job_id = $5, last_error = $6, updated_at = clock_timestamp()
                  WHERE tenant_id = $1 AND channel = $2 AND type = $3 AND dedupe_key = $4`,
                [...key, context.jobId, error instanceof Error ? error.message : String(error)],
              );
          await recorded
            .then(() => client.query('COMMIT'))
            .catch((logError: unknown) => {
              broken = true;
              report(toDatabaseError('send log', logError), context);
            });
          throw error;
        }
        try {
          await client.query(
            `UPDATE ${schema.sendLog}
                SET status = 'delivered', attempts = attempts + 1, job_id = $5, provider_message_id = $6,
                    last_error = NULL, delivered_at = clock_timestamp(), updated_at = clock_timestamp()
              WHERE tenant_id = $1 AND channel = $2 AND type = $3 AND dedupe_key = $4`,
            [...key, context.jobId, sent.providerMessageId ?? null],
          );
          await client.query('COMMIT');
        } catch (error) {
          // The provider has the message: failing the job would send it again.
          broken = true;
          report(toDatabaseError('send log (delivered, not recorded)', error), context);
        }
        return sent;
      } finally {
        if (broken) await client.query('ROLLBACK').catch(() => undefined);
        client.release(broken);
      }
    },
  };
}

/** Filters of {@link listSendLog}. */
export interface ListSendLogOptions extends OutboxSchemaOptions {
  /** Only this tenant's notifications (required: the log is read per tenant). */
  tenantId: string;
  /** Only these statuses. @defaultValue every status */
  status?: SendLogStatus | readonly SendLogStatus[];
  /** Only this channel. @defaultValue every channel */
  channel?: NotificationChannel;
  /** Most entries returned, newest first. @defaultValue `100` */
  limit?: number;
}

/** Returns `value` if it is a non-empty string, else throws `InvalidArgumentError`. */
function checkNonEmpty(argument: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(argument, 'must be a non-empty string');
  return value;
}

/** Returns `value` if it is an object, else throws `InvalidArgumentError`. */
function checkOptions<T extends object>(argument: string, value: T | undefined): T {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(argument, 'must be an object');
  return value;
}

/** Reads a tenant's send log, newest first. */
export async function listSendLog(pool: Pick<Pool, 'query'>, options: ListSendLogOptions): Promise<SendLogEntry[]> {
  checkOptions('options', options);
  const schema = resolveSchema(options.schema);
  checkNonEmpty('tenantId', options.tenantId);
  const limit = checkInteger('limit', options.limit ?? 100, 1, 10_000);
  const statuses = options.status === undefined ? null : typeof options.status === 'string' ? [options.status] : [...options.status];
  try {
    const result = await pool.query<Row>(
      `SELECT * FROM ${schema.sendLog}
        WHERE tenant_id = $1 AND ($2::text[] IS NULL OR status = ANY($2::text[])) AND ($3::text IS NULL OR channel = $3)
        ORDER BY created_at DESC LIMIT $4`,
      [options.tenantId, statuses, options.channel ?? null, limit],
    );
    return result.rows.map(toEntry);
  } catch (error) {
    throw toDatabaseError('listSendLog', error);
  }
}

/** The send log entry of one notification, or `undefined`; every field is required (`InvalidArgumentError`). */
export async function getSendLogEntry(
  pool: Pick<Pool, 'query'>,
  notification: { tenantId: string; channel: NotificationChannel; type: string; dedupeKey: string },
  options: OutboxSchemaOptions = {},
): Promise<SendLogEntry | undefined> {
  const schema = resolveSchema(options.schema);
  checkOptions('notification', notification);
  for (const field of ['tenantId', 'channel', 'type', 'dedupeKey'] as const) checkNonEmpty(field, notification[field]);
  try {
    const result = await pool.query<Row>(
      `SELECT * FROM ${schema.sendLog} WHERE tenant_id = $1 AND channel = $2 AND type = $3 AND dedupe_key = $4`,
      [notification.tenantId, notification.channel, notification.type, notification.dedupeKey],
    );
    const row = result.rows[0];
    return row ? toEntry(row) : undefined;
  } catch (error) {
    throw toDatabaseError('getSendLogEntry', error);
  }
}

/**
 * Marks notifications that are still `queued` or `failed` after `olderThanMs` as `expired`
 * (given up on); run it from a schedule. Resolves with how many were marked.
 */
export async function expireSendLog(pool: Pick<Pool, 'query'>, options: OutboxSchemaOptions & { olderThanMs: number }): Promise<number> {
  checkOptions('options', options);
  const schema = resolveSchema(options.schema);
  const olderThanMs = checkInteger('olderThanMs', options.olderThanMs, 0);
  try {
    const result = await pool.query(
      `UPDATE ${schema.sendLog} SET status = 'expired', updated_at = clock_timestamp()
        WHERE status IN ('queued', 'failed') AND created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)`,
      [olderThanMs],
    );
    return result.rowCount ?? 0;
  } catch (error) {
    throw toDatabaseError('expireSendLog', error);
  }
}
