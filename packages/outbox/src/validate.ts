import { randomUUID } from 'node:crypto';
import { PayloadTooLargeError, type AnyObjectSchema, type EnqueueOptions, type QueueDefinition } from '@platform/queue';
import { checkEnqueueOptions } from '@platform/queue/internal';
import { describeValue, InvalidArgumentError } from '@platform/redis';

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

// BullMQ accepts at most one of these per job (how a child's failure reaches its parent).
const PARENT_FAILURE_OPTIONS = ['removeDependencyOnFailure', 'failParentOnFailure', 'continueParentOnFailure', 'ignoreDependencyOnFailure'] as const;

/**
 * Checks job options the way the queue's enqueue and BullMQ's add check them, since the relay adds
 * the job long after the row is written: a custom job id (a non-empty string, not an integer, no
 * `:`), `priority`, `attempts`, `delay` and `timeouts` (the queue's own `checkEnqueueOptions`), at most
 * one parent failure option, a `deduplication` id, no `debounce`, a backoff `jitter` from 0 to 1,
 * and `sizeLimit` against `data` (the payload as enqueued) when given; and that the options survive
 * JSON, since they are stored in the outbox row. The relay checks stored rows again: an option
 * BullMQ refuses would otherwise fail every batch that claims the row.
 */
export function checkJobOptions(options: EnqueueOptions | undefined, data?: unknown): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError('options', `must be an object, got ${describeValue(options)}`);
  }
  const jobId: unknown = options.jobId;
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId === '' || /^\d+$/.test(jobId) || `${parseInt(jobId, 10)}` === jobId || jobId.includes(':'))) {
    throw new InvalidArgumentError('options.jobId', `must be a non-empty string that is not an integer and has no ":", got ${describeValue(jobId)}`);
  }
  // The queue's own checks of the numbers and timeouts, which its enqueue runs at the relay.
  checkEnqueueOptions(options);
  const parentFailure = PARENT_FAILURE_OPTIONS.filter((name) => options[name]);
  if (parentFailure.length > 1) {
    throw new InvalidArgumentError('options', `${parentFailure.join(', ')} cannot be used together`);
  }
  if (options.deduplication) {
    if (!options.deduplication.id) throw new InvalidArgumentError('options.deduplication.id', 'must be given');
    if (options.parent) throw new InvalidArgumentError('options.deduplication', 'cannot be used with parent');
  }
  if (Object.prototype.hasOwnProperty.call(options, 'debounce')) {
    throw new InvalidArgumentError('options.debounce', 'was removed from BullMQ; use deduplication');
  }
  const backoff: unknown = options.backoff;
  if (typeof backoff === 'object' && backoff !== null) {
    const jitter: unknown = (backoff as { jitter?: unknown }).jitter;
    if (typeof jitter === 'number' && (jitter < 0 || jitter > 1)) {
      throw new InvalidArgumentError('options.backoff.jitter', `must be from 0 to 1, got ${jitter}`);
    }
  }
  if (options.sizeLimit && data !== undefined) {
    const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
    if (size > options.sizeLimit) throw new InvalidArgumentError('options.sizeLimit', `the payload has ${size} bytes, over the limit of ${options.sizeLimit}`);
  }
  try {
    JSON.stringify(options);
  } catch (error) {
    throw new InvalidArgumentError('options', 'must be JSON-serializable (they are stored in the outbox row)', { cause: error });
  }
  return jobId as string | undefined;
}

// JSON's escape of U+0000: a backslash after an even number of backslashes (none included).
const NUL_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/**
 * Throws `InvalidArgumentError` when JSON to be stored in a row holds the character U+0000, which
 * PostgreSQL's `jsonb` and `text` cannot store: the INSERT would fail and abort the caller's transaction.
 */
export function checkStorable(argument: string, json: string): void {
  if (NUL_ESCAPE.test(json)) throw new InvalidArgumentError(argument, 'must not contain the character U+0000 (PostgreSQL cannot store it)');
}

/** A new outbox row id; also the job id unless the caller gives one. */
export function newRowId(): string {
  return randomUUID();
}
