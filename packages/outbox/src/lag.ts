import type { Pool } from 'pg';
import { toDatabaseError } from './errors';
import { resolveSchema, type OutboxSchemaOptions } from './schema';

/** What {@link getOutboxLag} read. */
export interface OutboxLag {
  /** Rows written and committed but not yet moved into BullMQ. */
  pendingRows: number;
  /** Age of the oldest of them in ms (0 when there are none): the relay's lag. */
  oldestPendingAgeMs: number;
  /** Rows the relay marked failed (their payload was invalid when relayed); they stay until removed. */
  failedRows: number;
  /** Moved rows kept as marks until pruned. */
  movedRows: number;
}

/** Reads the outbox's backlog: how many rows wait, how old the oldest is, how many failed. */
export async function getOutboxLag(pool: Pick<Pool, 'query'>, options: OutboxSchemaOptions = {}): Promise<OutboxLag> {
  const schema = resolveSchema(options.schema);
  try {
    const result = await pool.query<{ pending: string; oldest_ms: string | null; failed: string; moved: string }>(
      `SELECT count(*) FILTER (WHERE moved_at IS NULL AND failed_at IS NULL) AS pending,
              (extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE moved_at IS NULL AND failed_at IS NULL)) * 1000)::text AS oldest_ms,
              count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed,
              count(*) FILTER (WHERE moved_at IS NOT NULL) AS moved
         FROM ${schema.outbox}`,
    );
    const row = result.rows[0];
    return {
      pendingRows: Number(row?.pending ?? 0),
      oldestPendingAgeMs: row?.oldest_ms ? Math.max(0, Math.round(Number(row.oldest_ms))) : 0,
      failedRows: Number(row?.failed ?? 0),
      movedRows: Number(row?.moved ?? 0),
    };
  } catch (error) {
    throw toDatabaseError('getOutboxLag', error);
  }
}
