import { checkInteger, checkMs, InvalidArgumentError, describeValue } from '@platform/redis';

/** Defaults of {@link SessionStoreOptions}, exported so services can see and reuse them. */
export const defaultSessionStoreOptions = {
  /** 2 hours. */
  ttlSeconds: 7200,
  sliding: true,
  /** 64 KiB. */
  maxBytes: 65_536,
  timeoutMs: 5000,
  maxUpdateAttempts: 10,
} as const;

/** Defaults of {@link ResumeCacheOptions}. */
export const defaultResumeCacheOptions = {
  /** 7 days. */
  ttlSeconds: 604_800,
  timeoutMs: 5000,
} as const;

/** The longest TTL either store accepts: 366 days. */
export const MAX_TTL_SECONDS = 366 * 86_400;

/** The user's index keeps an entry this many TTLs ahead, so a sliding session renews it about once per TTL. */
export const INDEX_HORIZON_TTLS = 2;

/** Validated `ttlSeconds` in ms. */
export function ttlMsOf(ttlSeconds: unknown): number {
  return checkInteger('ttlSeconds', ttlSeconds, 1, MAX_TTL_SECONDS) * 1000;
}

/** Validated `timeoutMs`. */
export function timeoutMsOf(timeoutMs: unknown): number {
  return checkMs('timeoutMs', timeoutMs, 1);
}

/** Validated boolean option. */
export function checkBoolean(argument: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(argument, `must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** Throws unless `redis` looks like an ioredis client (or is undefined). */
export function checkClient(redis: unknown): void {
  if (redis === undefined) return;
  if (typeof redis !== 'object' || redis === null || typeof (redis as { evalsha?: unknown }).evalsha !== 'function') {
    throw new InvalidArgumentError('redis', 'must be an ioredis client (Redis or Cluster)');
  }
}

/** Returns `value` if it is a non-null object (not an array), else throws `InvalidArgumentError`. */
export function checkObject<T extends object>(argument: string, value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `must be an object, got ${describeValue(value)}`);
  }
  return value as T;
}
