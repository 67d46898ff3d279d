import type { AnyObjectSchema, EnqueueOptions, QueueDefinition, TenantPayloadInput } from '@platform/queue';
import type { ClientBase } from 'pg';
import { toDatabaseError } from './errors';
import { resolveSchema } from './schema';
import { traceOutboxWrite } from './trace';
import { checkJobOptions, checkStorable, checkStoredSize, newRowId, validateForQueue } from './validate';

/** A `pg` client (a `PoolClient` or `Client`) with a transaction open, or any object with its `query`. */
export type OutboxClient = Pick<ClientBase, 'query'>;

/** Options of {@link enqueueInTransaction}: the definition's `enqueue` options plus the outbox schema. */
export interface OutboxEnqueueOptions extends EnqueueOptions {
  /** PostgreSQL schema of the outbox tables. @defaultValue `'platform_outbox'` */
  outboxSchema?: string;
}

/** What {@link enqueueInTransaction} wrote. */
export interface OutboxEnqueueResult {
  /** The outbox row's id (a UUID). */
  id: string;
  /** The BullMQ job id the relay will use: `options.jobId`, else the row id. */
  jobId: string;
}

/**
 * Writes a job into the outbox with the caller's `client`, inside the caller's open transaction:
 * the relay enqueues it (with `jobId` as the BullMQ job id) only once the transaction commits, and
 * never when it rolls back.
 *
 * The payload is validated exactly as `definition.enqueue` validates it: a bad one throws
 * `PayloadValidationError`, one over the size limit `PayloadTooLargeError`, and bad options (or a
 * character U+0000, which PostgreSQL cannot store) an `InvalidArgumentError`, each before any
 * statement is sent. The relay calls `definition.enqueue`
 * with the same payload and options, so fairness, defaults and job options apply as usual.
 * Called outside a transaction, the row is committed at once (still enqueued exactly once).
 * With tracing on, the write is a `create <queue>` span whose context is stored in the row: the
 * job continues that trace when the relay moves it.
 *
 * @example
 * await client.query('BEGIN');
 * await client.query('INSERT INTO posts (id, topic) VALUES ($1, $2)', [id, topic]);
 * await enqueueInTransaction(client, blogWriter, { tenantId: 'acme', topic });
 * await client.query('COMMIT');
 */
export async function enqueueInTransaction<S extends AnyObjectSchema>(
  client: OutboxClient,
  definition: QueueDefinition<S>,
  payload: TenantPayloadInput<S>,
  options?: OutboxEnqueueOptions,
): Promise<OutboxEnqueueResult> {
  const { outboxSchema, ...jobOptions } = options ?? {};
  const schema = resolveSchema(outboxSchema);
  const data = validateForQueue(definition, payload);
  const json = JSON.stringify(payload);
  checkStoredSize(definition, json);
  const customJobId = checkJobOptions(jobOptions, data);
  const optionsJson = JSON.stringify(jobOptions);
  checkStorable('payload', json);
  checkStorable('options', optionsJson);
  const id = newRowId();
  const jobId = customJobId ?? id;
  await traceOutboxWrite(definition.name, data.tenantId, id, async (trace) => {
    try {
      await client.query(
        `INSERT INTO ${schema.outbox} (id, kind, queue, tenant_id, job_id, payload, options, traceparent, tracestate)
         VALUES ($1, 'job', $2, $3, $4, $5, $6, $7, $8)`,
        [id, definition.name, data.tenantId, jobId, json, optionsJson, trace.traceparent, trace.tracestate],
      );
    } catch (error) {
      throw toDatabaseError('enqueueInTransaction', error);
    }
  });
  return { id, jobId };
}
