import { notifyOnce, type NotificationInput, type NotifyOnceOptions } from '@platform/notifications';
import type { EnqueueOptions, QueueDefinition } from '@platform/queue';
import { getSharedConnection, PlatformError, type RedisClient } from '@platform/redis';
import { getParentKey } from 'bullmq';
import type { Pool } from 'pg';
import type { ResolvedSchema } from './schema';
import { jobTelemetryOf, traceRelayBatch, traceRelayNotification, type RowTraceContext } from './trace';
import { checkJobOptions, validateForQueue } from './validate';

/** One claimed outbox row. */
interface OutboxRow extends RowTraceContext {
  id: string;
  kind: 'job' | 'notify';
  queue: string;
  job_id: string;
  payload: unknown;
  options: Record<string, unknown>;
  age_ms: number;
}

/** Where notification rows go (passed to `notifyOnce`). */
export interface RelayNotificationOptions {
  /** Producer connection for the dedupe keys and channel queues. @defaultValue the shared `producer` connection */
  connection?: RedisClient;
  /**
   * Key prefix of the dedupe keys and channel queues (`notifyOnce`'s `keyPrefix`).
   * @defaultValue `REDIS_KEY_PREFIX` from the environment, else `''`
   */
  keyPrefix?: string;
}

/** Settings one batch needs. */
export interface BatchContext {
  pool: Pick<Pool, 'connect'>;
  schema: ResolvedSchema;
  queues: ReadonlyMap<string, QueueDefinition>;
  notifications: RelayNotificationOptions | undefined;
  batchSize: number;
  /** Moved rows are deleted (`true`) or marked. */
  deleteMoved: boolean;
}

/** What one batch did. */
export interface BatchResult {
  claimed: number;
  moved: { job: number; notify: number };
  failed: number;
  /** Age in ms of each moved row when it was claimed. */
  ages: number[];
}

// Errors that say the row itself is bad: retrying cannot help, so the row is marked failed.
const PERMANENT_CODES = new Set(['PAYLOAD_INVALID', 'PAYLOAD_TOO_LARGE', 'NOTIFICATION_INVALID', 'INVALID_ARGUMENT', 'QUEUE_NAME_INVALID']);
const isPermanent = (error: unknown): boolean => error instanceof PlatformError && PERMANENT_CODES.has(error.code);

/**
 * The rows whose parent job exists or that have none. BullMQ refuses a child of a missing parent
 * (code -5) with a plain error that would fail every batch claiming the row, so such rows are marked
 * failed. A Redis error fails the batch as usual.
 */
async function withoutOrphans(definition: QueueDefinition, rows: OutboxRow[], failed: Map<string, string>): Promise<OutboxRow[]> {
  const parents = rows.map((row) => {
    const parent = (row.options as EnqueueOptions).parent;
    return parent ? getParentKey(parent) : undefined;
  });
  if (parents.every((key) => key === undefined)) return rows;
  // BullMQ's own client (ioredis), so the key is read as its scripts would read it.
  const client = (await definition.queue.backend.client) as unknown as Pick<RedisClient, 'exists'>;
  const found = await Promise.all(parents.map((key) => (key === undefined ? 1 : client.exists(key))));
  return rows.filter((row, index) => {
    if (found[index]) return true;
    failed.set(row.id, `parent job ${parents[index]} does not exist`);
    return false;
  });
}

async function moveJobs(definition: QueueDefinition, rows: OutboxRow[], moved: Map<string, string>, failed: Map<string, string>): Promise<void> {
  let valid: OutboxRow[] = [];
  for (const row of rows) {
    try {
      const data = validateForQueue(definition, row.payload);
      // The job id the relay adds with is the row's, whatever its stored options say.
      checkJobOptions({ ...(row.options as EnqueueOptions), jobId: row.job_id }, data);
      valid.push(row);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      failed.set(row.id, (error as Error).message);
    }
  }
  valid = await withoutOrphans(definition, valid, failed);
  if (valid.length === 0) return;
  // The row's job id makes a repeated move (after a relay died before its commit) a no-op in BullMQ.
  // The job carries the context of the span that wrote the row (kept by the enqueue's own tracing).
  const options = valid.map((row) => {
    const own = row.options as EnqueueOptions;
    const telemetry = own.telemetry ?? jobTelemetryOf(row);
    return { ...own, ...(telemetry ? { telemetry } : {}), jobId: row.job_id };
  });
  await traceRelayBatch(definition.name, valid, () =>
    definition.enqueueBulk(
      valid.map((row) => row.payload as never),
      options,
    ),
  );
  for (const row of valid) moved.set(row.id, row.job_id);
}

async function moveNotification(
  row: OutboxRow,
  notifications: RelayNotificationOptions,
  moved: Map<string, string>,
  failed: Map<string, string>,
): Promise<void> {
  try {
    const { tenantId, type, dedupeKey, payload } = (row.payload ?? {}) as NotificationInput;
    checkJobOptions((row.options as NotifyOnceOptions).jobOptions, { tenantId, type, dedupeKey, payload });
    // BullMQ answers the add of a child of a missing parent with the code -5 as its job id: such a
    // row would be marked moved with no job, so it is marked failed.
    const parent = (row.options as NotifyOnceOptions).jobOptions?.parent;
    const parentKey = parent ? getParentKey(parent) : undefined;
    if (parentKey !== undefined && !(await (notifications.connection ?? getSharedConnection('producer')).exists(parentKey))) {
      failed.set(row.id, `parent job ${parentKey} does not exist`);
      return;
    }
    // notifyOnce's own dedupe makes a repeated move (after a relay died before its commit) a no-op.
    const result = await traceRelayNotification(row.queue, row, () => notifyOnce(row.payload as NotificationInput, { ...(row.options as NotifyOnceOptions), ...notifications }));
    // No job id: a twin holds the claim and its job is not known to be queued. That twin may be a
    // relay that died between claim and enqueue, so the row stays for a later batch, which finds
    // the job or takes the claim over once its pending time is past.
    if (result.jobId === undefined) return;
    moved.set(row.id, result.jobId);
  } catch (error) {
    if (!isPermanent(error)) throw error;
    failed.set(row.id, (error as Error).message);
  }
}

/**
 * Claims up to `batchSize` committed rows (`FOR UPDATE SKIP LOCKED`: concurrent relays take
 * different rows), moves them into BullMQ, and deletes or marks them in the same transaction.
 * A notification row whose twin's job is not known to be queued yet is left as it is.
 * Any Redis error rolls the whole batch back (the rows wait for the next attempt); jobs already
 * added by then carry the row's job id, so the next attempt does not add them twice.
 */
export async function relayBatch(context: BatchContext): Promise<BatchResult> {
  const { schema, queues, notifications } = context;
  const client = await context.pool.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const claimed = await client.query<OutboxRow>(
      `SELECT id, kind, queue, job_id, payload, options, traceparent, tracestate,
              (extract(epoch FROM clock_timestamp() - created_at) * 1000)::float8 AS age_ms
         FROM ${schema.outbox}
        WHERE moved_at IS NULL AND failed_at IS NULL
          AND ((kind = 'job' AND queue = ANY($1::text[])) OR (kind = 'notify' AND $2::boolean))
        ORDER BY seq
        LIMIT $3
        FOR UPDATE SKIP LOCKED`,
      [[...queues.keys()], notifications !== undefined, context.batchSize],
    );
    const rows = claimed.rows;
    if (rows.length === 0) {
      await client.query('COMMIT');
      return { claimed: 0, moved: { job: 0, notify: 0 }, failed: 0, ages: [] };
    }
    const moved = new Map<string, string>();
    const failed = new Map<string, string>();
    const byQueue = new Map<string, OutboxRow[]>();
    const notifyRows: OutboxRow[] = [];
    for (const row of rows) {
      if (row.kind === 'notify') notifyRows.push(row);
      else if (byQueue.has(row.queue)) byQueue.get(row.queue)!.push(row);
      else byQueue.set(row.queue, [row]);
    }
    // Every move settles before the batch rolls back: a rollback unlocks rows whose adds would still run.
    const settled = await Promise.allSettled([
      ...[...byQueue].map(([name, list]) => moveJobs(queues.get(name)!, list, moved, failed)),
      ...notifyRows.map((row) => moveNotification(row, notifications ?? {}, moved, failed)),
    ]);
    const refused = settled.find((result) => result.status === 'rejected');
    if (refused) throw refused.reason;

    if (moved.size > 0) {
      const ids = [...moved.keys()];
      if (context.deleteMoved) {
        await client.query(`DELETE FROM ${schema.outbox} WHERE id = ANY($1::uuid[])`, [ids]);
      } else {
        await client.query(
          `UPDATE ${schema.outbox} AS o SET moved_at = clock_timestamp(), moved_job_id = NULLIF(m.job_id, '')
             FROM unnest($1::uuid[], $2::text[]) AS m(id, job_id)
            WHERE o.id = m.id`,
          [ids, [...moved.values()]],
        );
      }
    }
    if (failed.size > 0) {
      await client.query(
        `UPDATE ${schema.outbox} AS o SET failed_at = clock_timestamp(), last_error = f.error
           FROM unnest($1::uuid[], $2::text[]) AS f(id, error)
          WHERE o.id = f.id`,
        [[...failed.keys()], [...failed.values()]],
      );
    }
    await client.query('COMMIT');
    const movedRows = rows.filter((row) => moved.has(row.id));
    return {
      claimed: rows.length,
      moved: {
        job: movedRows.filter((row) => row.kind === 'job').length,
        notify: movedRows.filter((row) => row.kind === 'notify').length,
      },
      failed: failed.size,
      ages: movedRows.map((row) => Number(row.age_ms)),
    };
  } catch (error) {
    broken = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // A client whose batch failed is discarded (its connection may be the reason).
    client.release(broken !== undefined);
  }
}
