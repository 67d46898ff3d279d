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

/** Throws {@link PayloadTooLargeError} when the JSON form of `data` is over `maxBytes`. */
export function checkPayloadSize(queueName: string, data: unknown, maxBytes: number): void {
  const json = JSON.stringify(data);
  // Fast path: UTF-8 needs at most 3 bytes per UTF-16 code unit, so a short string cannot exceed the limit.
  if (json.length * 3 <= maxBytes) return;
  const size = Buffer.byteLength(json, 'utf8');
  if (size > maxBytes) throw new PayloadTooLargeError(queueName, size, maxBytes);
}
