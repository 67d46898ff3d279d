import { validateNotification, type NotificationInput, type NotifyOnceOptions } from '@platform/notifications';
import { notificationQueue } from '@platform/queue';
import { checkInteger } from '@platform/redis';
import type { OutboxClient } from './enqueue';
import { toDatabaseError } from './errors';
import { resolveSchema } from './schema';
import { traceOutboxWrite } from './trace';
import { checkJobOptions, checkStorable, newRowId, validateForQueue } from './validate';

/**
 * Options of {@link notifyOnceInTransaction}: `notifyOnce`'s options that can be stored in a row
 * (the relay supplies the connection and prefix), plus the outbox's own.
 */
export interface OutboxNotifyOptions extends Pick<NotifyOnceOptions, 'ttlSeconds' | 'pendingTtlMs' | 'jobOptions'> {
  /** PostgreSQL schema of the outbox tables. @defaultValue `'platform_outbox'` */
  outboxSchema?: string;
  /**
   * Record the notification in the send log as `queued`, and write nothing when the log already
   * has it as `delivered` (at any time, not only within the Redis dedupe window).
   * @defaultValue `true`
   */
  sendLog?: boolean;
}

/** What {@link notifyOnceInTransaction} did. */
export type OutboxNotifyResult =
  | {
      /** An outbox row was written; the relay calls `notifyOnce` once the transaction commits. */
      written: true;
      /** The outbox row's id. */
      id: string;
    }
  | {
      /** Nothing was written: the send log has this notification as delivered. */
      written: false;
      reason: 'already-delivered';
      /** The provider's id of the delivered message. */
      providerMessageId: string | null;
    };

/**
 * Writes a notification into the outbox inside the caller's open transaction; once it commits, the
 * relay passes it to `notifyOnce`, so the usual dedupe (one job per tenant, type and dedupe key in
 * the window) applies. Validated exactly as `notifyOnce` validates (`NotificationValidationError`,
 * `PayloadTooLargeError`, `InvalidArgumentError` for options), before any statement is sent.
 *
 * With the send log on (the default), the same transaction records the notification as `queued`,
 * and a notification the log has as `delivered` is not written again.
 *
 * @example
 * await notifyOnceInTransaction(client, {
 *   tenantId: 'acme', type: 'invoice-paid', dedupeKey: invoiceId, channel: 'email',
 *   payload: { to: 'ada@acme.test', subject: 'Payment received', text: '…' },
 * });
 */
export async function notifyOnceInTransaction(
  client: OutboxClient,
  input: NotificationInput,
  options: OutboxNotifyOptions = {},
): Promise<OutboxNotifyResult> {
  const { outboxSchema, sendLog = true, ...notifyOptions } = options;
  const schema = resolveSchema(outboxSchema);
  const notification = validateNotification(input);
  if (notifyOptions.ttlSeconds !== undefined) checkInteger('ttlSeconds', notifyOptions.ttlSeconds, 1);
  if (notifyOptions.pendingTtlMs !== undefined) checkInteger('pendingTtlMs', notifyOptions.pendingTtlMs, 1);
  const { tenantId, type, dedupeKey, channel, payload } = notification;
  // The notification job's data, which BullMQ measures against `jobOptions.sizeLimit`.
  const data = { tenantId, type, dedupeKey, payload };
  checkJobOptions(notifyOptions.jobOptions, data);
  const definition = notificationQueue(channel);
  validateForQueue(definition, data);
  const notificationJson = JSON.stringify(notification);
  const optionsJson = JSON.stringify(notifyOptions);
  checkStorable('notification', notificationJson);
  checkStorable('options', optionsJson);

  const id = newRowId();
  return traceOutboxWrite(definition.name, tenantId, id, async (trace): Promise<OutboxNotifyResult> => {
    try {
      if (sendLog) {
        const existing = await client.query<{ status: string; provider_message_id: string | null }>(
          `SELECT status, provider_message_id FROM ${schema.sendLog}
            WHERE tenant_id = $1 AND channel = $2 AND type = $3 AND dedupe_key = $4`,
          [tenantId, channel, type, dedupeKey],
        );
        const row = existing.rows[0];
        if (row?.status === 'delivered') return { written: false, reason: 'already-delivered', providerMessageId: row.provider_message_id };
        // A failed or expired notification may be queued again; a queued one stays as it is.
        await client.query(
          `INSERT INTO ${schema.sendLog} (tenant_id, channel, type, dedupe_key, status)
           VALUES ($1, $2, $3, $4, 'queued')
           ON CONFLICT (tenant_id, channel, type, dedupe_key) DO UPDATE
             SET status = 'queued', last_error = NULL, updated_at = clock_timestamp()
             WHERE ${schema.sendLog}.status IN ('failed', 'expired')`,
          [tenantId, channel, type, dedupeKey],
        );
      }
      await client.query(
        `INSERT INTO ${schema.outbox} (id, kind, queue, tenant_id, job_id, payload, options, traceparent, tracestate)
         VALUES ($1::uuid, 'notify', $2, $3, $1::text, $4, $5, $6, $7)`,
        [id, definition.name, tenantId, notificationJson, optionsJson, trace.traceparent, trace.tracestate],
      );
    } catch (error) {
      throw toDatabaseError('notifyOnceInTransaction', error);
    }
    return { written: true, id };
  });
}
