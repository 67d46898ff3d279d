import { tenantIdSchema, type ZodObjectSchema } from '@platform/redis/internal';
import type { z } from 'zod';
import { PayloadTooLargeError, PayloadValidationError, type PayloadIssue } from './errors';

/** Any zod object schema. */
export type AnyObjectSchema = ZodObjectSchema;

/** The payload type of a queue: `{ tenantId: string } & z.output<schema>`. */
export type TenantPayload<S extends AnyObjectSchema> = z.output<S> & { tenantId: string };

/** What callers pass to `enqueue`: `{ tenantId: string } & z.input<schema>`. */
export type TenantPayloadInput<S extends AnyObjectSchema> = z.input<S> & { tenantId: string };

/** Adds `tenantId` to a queue's schema. */
export function withTenantId(schema: AnyObjectSchema): AnyObjectSchema {
  return schema.extend({ tenantId: tenantIdSchema }) as unknown as AnyObjectSchema;
}

function toIssues(error: z.ZodError): PayloadIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** Validates a payload; throws {@link PayloadValidationError} listing every issue. */
export function validatePayload<T>(queueName: string, schema: AnyObjectSchema, payload: unknown): T {
  const result = schema.safeParse(payload);
  if (!result.success) throw new PayloadValidationError(queueName, toIssues(result.error));
  return result.data as T;
}

/** Throws {@link PayloadTooLargeError} when the JSON form of `data` is over `maxBytes` (UTF-8). */
export function checkPayloadSize(queueName: string, data: unknown, maxBytes: number): void {
  // Serialise only when a cheap upper bound of the JSON size does not already prove it fits.
  if (jsonSizeBound(data, maxBytes, 0) <= maxBytes) return;
  const json = JSON.stringify(data) ?? '';
  // UTF-8 needs at most 3 bytes per UTF-16 unit: a short string cannot exceed the limit.
  if (json.length * 3 <= maxBytes) return;
  const size = Buffer.byteLength(json, 'utf8');
  if (size > maxBytes) throw new PayloadTooLargeError(queueName, size, maxBytes);
}

/** Deeper than this, the bound gives up (and the exact check serialises). */
const MAX_BOUND_DEPTH = 32;

/**
 * An upper bound of the UTF-8 bytes of `JSON.stringify(value)`, or `Infinity` once it passes
 * `budget` or meets a value it does not bound (a `toJSON`, a bigint, depth > 32): a string costs
 * at most 6 bytes per UTF-16 unit (a `\uXXXX` escape) plus its quotes, a number 25, a key as a
 * string plus its colon, each element its comma. No string is built.
 */
export function jsonSizeBound(value: unknown, budget: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return 25; // "-2.2250738585072014e-308" is 24
    case 'boolean':
      return 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 4; // omitted in objects, `null` in arrays
    case 'object': {
      if (value === null) return 4;
      if (depth >= MAX_BOUND_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return Infinity;
      let size = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          size += jsonSizeBound(value[i], budget - size, depth + 1) + 1;
          if (size > budget) return Infinity;
        }
        return size;
      }
      for (const key in value) {
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
        size += key.length * 6 + 4 + jsonSizeBound((value as Record<string, unknown>)[key], budget - size, depth + 1);
        if (size > budget) return Infinity;
      }
      return size;
    }
    default:
      return Infinity; // bigint: JSON.stringify decides (it throws)
  }
}
