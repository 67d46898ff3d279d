import { randomUUID } from 'node:crypto';
import { PayloadTooLargeError, type AnyObjectSchema, type EnqueueOptions, type QueueDefinition } from '@platform/queue';
import { describeValue, InvalidArgumentError } from '@platform/redis';
import { PRIORITY_LIMIT } from 'bullmq';

/**
 * Validates a payload the way the definition's `enqueue` does: its `parse` (schema plus
 * `tenantId`; `PayloadValidationError`) and its size limit (`PayloadTooLargeError`).
 * Returns the parsed payload.
 */
export function validateForQueue<S extends AnyObjectSchema>(definition: QueueDefinition<S>, payload: unknown): { tenantId: string } {
  const data = definition.parse(payload) as { tenantId: string };
  const maxBytes = definition.settings.maxPayloadBytes;
  const json = JSON.stringify(data);
  if (json.length * 3 > maxBytes) {
    const size = Buffer.byteLength(json, 'utf8');
    if (size > maxBytes) throw new PayloadTooLargeError(definition.name, size, maxBytes);
  }
  return data;
}

/**
 * Throws `PayloadTooLargeError` when the JSON an outbox row stores is over the definition's size
 * limit: the row keeps the payload as given, so keys the schema strips count too.
 */
export function checkStoredSize(definition: QueueDefinition, json: string): void {
  const maxBytes = definition.settings.maxPayloadBytes;
  if (json.length * 3 <= maxBytes) return;
  const size = Buffer.byteLength(json, 'utf8');
  if (size > maxBytes) throw new PayloadTooLargeError(definition.name, size, maxBytes);
}

/**
 * Checks a custom job id the way BullMQ needs it (a non-empty string, not an integer, no `:`),
 * a priority the way BullMQ's add checks it (an integer up to `PRIORITY_LIMIT`), and that the
 * options survive JSON, since they are stored in the outbox row. The relay checks stored rows
 * again: an option BullMQ refuses would otherwise fail every batch that claims the row.
 */
export function checkJobOptions(options: EnqueueOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError('options', `must be an object, got ${describeValue(options)}`);
  }
  const jobId: unknown = options.jobId;
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId === '' || /^\d+$/.test(jobId) || jobId.includes(':'))) {
    throw new InvalidArgumentError('options.jobId', `must be a non-empty string that is not an integer and has no ":", got ${describeValue(jobId)}`);
  }
  const priority: unknown = options.priority;
  if (priority !== undefined && priority !== null && priority !== 0 && !(Number.isInteger(priority) && (priority as number) <= PRIORITY_LIMIT)) {
    throw new InvalidArgumentError('options.priority', `must be an integer up to ${PRIORITY_LIMIT}, got ${describeValue(priority)}`);
  }
  try {
    JSON.stringify(options);
  } catch (error) {
    throw new InvalidArgumentError('options', 'must be JSON-serializable (they are stored in the outbox row)', { cause: error });
  }
  return jobId as string | undefined;
}

/** A new outbox row id; also the job id unless the caller gives one. */
export function newRowId(): string {
  return randomUUID();
}
