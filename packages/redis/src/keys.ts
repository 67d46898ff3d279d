import { InvalidArgumentError } from './errors';

/** A part of a Redis key: strings are escaped, numbers are written as they are. */
export type KeyPart = string | number;

// Characters that would let one part masquerade as two, or that are glob/hash-tag syntax.
const ESCAPE = /[%:{}*?[\]\s]/g;

/** `%XX` per UTF-8 byte of `c`: one escape for ASCII, two to three for Unicode whitespace. */
function percentEncode(c: string): string {
  const code = c.charCodeAt(0);
  // encodeURIComponent leaves `*` as it is, and `c` is never a lone surrogate here (whitespace).
  return code < 0x80 ? '%' + code.toString(16).toUpperCase().padStart(2, '0') : encodeURIComponent(c);
}

/**
 * Escapes one key part so it can never contain the `:` separator, a hash tag or a glob character.
 * Escaping is percent-encoding of those characters (and of `%` itself) as UTF-8 bytes, so it is
 * reversible and two different parts always produce two different results (a Unicode space is
 * not `%` plus its code point, which `' '` followed by hex digits would also give).
 */
export function escapeKeyPart(part: KeyPart): string {
  if (typeof part === 'number') {
    if (!Number.isFinite(part)) throw new InvalidArgumentError('key part', 'a number key part must be finite');
    return String(part);
  }
  if (typeof part !== 'string') throw new InvalidArgumentError('key part', `expected a string or number, got ${typeof part}`);
  return part.replace(ESCAPE, percentEncode);
}

/**
 * Joins key parts with `:`, escaping `:`, `%`, `{`, `}`, `*`, `?`, `[`, `]` and whitespace inside
 * each part, so that two different tuples never produce the same key.
 *
 * @example redisKey('notify', tenantId, type, dedupeKey) // 'notify:t1:welcome:user%3A42'
 */
export function redisKey(...parts: KeyPart[]): string {
  if (parts.length === 0) throw new InvalidArgumentError('key parts', 'at least one part is required');
  return parts.map(escapeKeyPart).join(':');
}

/** Tenant ids: 1–128 characters of `[A-Za-z0-9_.@-]`, so they are safe in keys, job ids and logs. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,128}$/;

/**
 * Throws {@link InvalidArgumentError} unless `tenantId` is a valid tenant id
 * (1–128 characters of letters, digits, `_`, `.`, `@`, `-`; notably no `:`).
 */
export function assertTenantId(tenantId: unknown, argument = 'tenantId'): asserts tenantId is string {
  if (typeof tenantId !== 'string') {
    throw new InvalidArgumentError(argument, `must be a string, got ${tenantId === null ? 'null' : typeof tenantId}`);
  }
  if (!TENANT_ID_PATTERN.test(tenantId)) {
    throw new InvalidArgumentError(
      argument,
      'must be 1-128 characters of letters, digits, "_", ".", "@" or "-" (no ":" or spaces)',
    );
  }
}
