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

/**
 * Checks `data` as it will be stored, as JSON: throws {@link PayloadValidationError} when it holds
 * a value JSON would not keep as it is (see {@link jsonIssues}), and {@link PayloadTooLargeError}
 * when its JSON is over `maxBytes` (UTF-8).
 */
export function checkPayloadSize(queueName: string, data: unknown, maxBytes: number): void {
  const issues: PayloadIssue[] = [];
  jsonIssues(data, [], [], issues);
  if (issues.length > 0) throw new PayloadValidationError(queueName, issues);
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

/**
 * Adds to `issues` every value in `value` that JSON would not give back as it is, so a job never
 * reaches Redis in a form its worker would see differently (or fail to validate): a bigint or a
 * circular reference (`JSON.stringify` throws), `NaN`/`Infinity` and `undefined`, a function or a
 * symbol in an array (stored as `null`), a function or a symbol as a property (dropped), and any
 * object other than a plain object or an array (a `Date` becomes a string, a `Map` or `Set` `{}`,
 * a class instance loses its prototype). `path` and `ancestors` are the keys and objects above `value`.
 */
export function jsonIssues(value: unknown, path: Array<string | number>, ancestors: object[], issues: PayloadIssue[], inArray = false): void {
  const refuse = (message: string): void => void issues.push({ path: path.join('.'), message });
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(`${value} is not a JSON number (it would be stored as null)`);
      return;
    case 'bigint':
      refuse('a BigInt is not JSON (store it as a string)');
      return;
    case 'undefined':
      if (inArray) refuse('undefined in an array is not JSON (it would be stored as null)');
      return;
    case 'function':
    case 'symbol':
      refuse(`a ${typeof value} is not JSON`);
      return;
  }
  if (value === null) return;
  const object = value as object;
  if (ancestors.includes(object)) return refuse('a circular reference is not JSON');
  const isArray = Array.isArray(object);
  const proto: unknown = Object.getPrototypeOf(object);
  if (!isArray && proto !== Object.prototype && proto !== null) {
    const kind = (proto as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
    return refuse(`a ${typeof kind === 'string' && kind ? kind : 'non-plain object'} is not plain JSON (store a string, number or plain object)`);
  }
  ancestors.push(object);
  if (isArray) {
    const array = object as unknown[];
    for (let i = 0; i < array.length; i++) {
      path.push(i);
      jsonIssues(array[i], path, ancestors, issues, true);
      path.pop();
    }
  } else {
    for (const key in object) {
      if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
      path.push(key);
      jsonIssues((object as Record<string, unknown>)[key], path, ancestors, issues);
      path.pop();
    }
  }
  ancestors.pop();
}
