import { checkZodObjectSchema, tenantIdSchema, type ZodObjectSchema } from '@platform/redis/internal';
import { z } from 'zod';
import { SessionTooLargeError, SessionValidationError } from './errors';
import { USER_ID_PATTERN } from './keys';

/** Any zod object schema. */
export type SessionSchema = ZodObjectSchema;

/** Whose session it is. Every session belongs to one user of one tenant. */
export interface SessionOwner {
  /** The tenant (1–128 of `[A-Za-z0-9_.@-]`). */
  tenantId: string;
  /** The user (1–128 characters, no control characters). */
  userId: string;
}

/** What `get` returns as `data`: the schema's output plus the owner. */
export type SessionData<S extends SessionSchema> = z.output<S> & SessionOwner;

/** What `create` and `set` take: the schema's input plus the owner. */
export type SessionInput<S extends SessionSchema> = z.input<S> & SessionOwner;

/** Validates and serialises session records of one schema. */
export interface SessionCodec<S extends SessionSchema> {
  /** Validates `input` (the schema plus `tenantId`/`userId`); throws SessionValidationError. */
  validate(input: unknown): SessionData<S>;
  /** JSON of validated data; throws SessionTooLargeError over the limit. */
  serialize(data: SessionData<S>): string;
  /** Parses stored JSON and validates it; throws SessionValidationError. */
  parse(json: string): SessionData<S>;
}

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** A codec for `schema` extended with the owner fields, refusing JSON over `maxBytes`. */
export function createCodec<S extends SessionSchema>(schema: S, maxBytes: number): SessionCodec<S> {
  checkZodObjectSchema(schema, 'schema', 'createSessionStore', '@platform/sessions');
  const record = schema.extend({
    tenantId: tenantIdSchema,
    userId: z.string({ error: 'userId is required and must be a string' }).regex(USER_ID_PATTERN, 'userId must be 1-128 characters without control characters'),
  }) as unknown as SessionSchema;

  const validate = (input: unknown): SessionData<S> => {
    const result = record.safeParse(input);
    if (!result.success) throw new SessionValidationError(issuesOf(result.error));
    return result.data as SessionData<S>;
  };

  return {
    validate,
    serialize(data) {
      const json = JSON.stringify(data);
      // UTF-8 takes at most 3 bytes per UTF-16 code unit: a short string cannot be over the limit.
      if (json.length * 3 > maxBytes) {
        const bytes = Buffer.byteLength(json, 'utf8');
        if (bytes > maxBytes) throw new SessionTooLargeError(bytes, maxBytes);
      }
      return json;
    },
    parse(json) {
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw new SessionValidationError([{ path: '', message: 'stored session is not valid JSON' }], { cause: error });
      }
      return validate(value);
    },
  };
}
