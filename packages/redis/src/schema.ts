import { z } from 'zod';
import { describeValue, InvalidArgumentError } from './errors';
import { TENANT_ID_PATTERN } from './keys';

/** The zod schema of `tenantId` in payloads and records: the rule of `assertTenantId` (1–128 of `[A-Za-z0-9_.@-]`, no `:`). */
export const tenantIdSchema = z
  .string({ error: 'tenantId is required and must be a string' })
  .regex(TENANT_ID_PATTERN, 'tenantId must be 1-128 characters of letters, digits, "_", ".", "@" or "-" (no ":")');

/** Any zod object schema. */
export type ZodObjectSchema = z.ZodObject<z.ZodRawShape>;

/**
 * Checks that `value` is a zod 4 object schema, else throws {@link InvalidArgumentError}: not a zod
 * object schema at all (checked by shape rather than `instanceof`, so two zod 4 copies still work),
 * or one made with another major version of zod than the one the calling package runs on (its `zod`
 * peer, ^4). A zod 4 schema carries `_zod.version.major === 4`; a zod 3 one does not, and would
 * otherwise fail deep inside parsing (`keyValidator._parse is not a function`).
 *
 * @param where - the call that took the schema, e.g. `defineQueue(agent__blog-writer)`
 * @param packageName - the package whose API took the schema, named in the message
 */
export function checkZodObjectSchema(value: unknown, argument: string, where: string, packageName: string): asserts value is ZodObjectSchema {
  const isObjectSchema =
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === 'function' &&
    typeof (value as { extend?: unknown }).extend === 'function' &&
    typeof (value as { shape?: unknown }).shape === 'object';
  if (!isObjectSchema) throw new InvalidArgumentError(argument, `${where}: must be a zod object schema (z.object({...})), got ${describeValue(value)}`);
  const version = (value as { _zod?: { version?: { major?: unknown } } })._zod?.version;
  if (version?.major === 4) return;
  const made = version ? `zod ${describeValue(version.major)}` : 'zod 3';
  throw new InvalidArgumentError(
    argument,
    `${where}: this schema was made with ${made}, and ${packageName} needs zod 4. Install it (npm install zod@^4) and build the schema with \`import { z } from 'zod'\` (zod 3.25 also has it as 'zod/v4').`,
  );
}
