import { ConfigError } from './errors';
import { redisKey, type KeyPart } from './keys';

/** What `REDIS_KEY_PREFIX` may hold: 1–64 letters, digits, `_`, `.` or `-` (no `:`, no braces). */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** BullMQ's own default prefix, used under the key prefix. */
export const BULLMQ_PREFIX = 'bull';

/**
 * Reads the one key prefix of every `@platform` package from `REDIS_KEY_PREFIX`.
 * Unset or empty means no prefix: keys are exactly `notify:…`, `ratelimit:…`, `lock:…`,
 * `session:…`, and queues live under `bull:`.
 *
 * @throws {@link ConfigError} naming `REDIS_KEY_PREFIX` for a value outside {@link KEY_PREFIX_PATTERN}.
 */
export function loadKeyPrefix(env: Partial<Record<'REDIS_KEY_PREFIX', string | undefined>> = process.env): string {
  const raw = env.REDIS_KEY_PREFIX?.trim() ?? '';
  return checkKeyPrefix(raw, 'REDIS_KEY_PREFIX');
}

/** Validates a key prefix given in code (`''` for none); `variable` names it in the error. */
export function checkKeyPrefix(prefix: unknown, variable = 'keyPrefix'): string {
  if (prefix === '') return '';
  if (typeof prefix !== 'string' || !KEY_PREFIX_PATTERN.test(prefix)) {
    throw new ConfigError(variable, 'must be 1-64 characters of letters, digits, "_", "." or "-" (no ":" or braces)');
  }
  return prefix;
}

/**
 * The key prefix to use: `explicit` when given (validated; `''` for none), else
 * `REDIS_KEY_PREFIX` from `env` (see {@link loadKeyPrefix}).
 *
 * @throws {@link ConfigError} for a prefix outside {@link KEY_PREFIX_PATTERN}.
 */
export function resolveKeyPrefix(
  explicit?: string,
  env: Partial<Record<'REDIS_KEY_PREFIX', string | undefined>> = process.env,
): string {
  return explicit === undefined ? loadKeyPrefix(env) : checkKeyPrefix(explicit);
}

/**
 * A key in the platform's namespace: `redisKey(...parts)` behind the key prefix, if any.
 *
 * @example namespacedKey('', 'notify', 't1', 'welcome', 'u1')     // 'notify:t1:welcome:u1'
 * @example namespacedKey('acme', 'notify', 't1', 'welcome', 'u1') // 'acme:notify:t1:welcome:u1'
 */
export function namespacedKey(prefix: string, ...parts: KeyPart[]): string {
  const key = redisKey(...parts);
  return prefix ? `${prefix}:${key}` : key;
}

/**
 * BullMQ's `prefix` option for a key prefix: `bull`, or `<prefix>:bull`. Given the queue's name for
 * a Redis Cluster, the prefix also carries the queue's own hash tag, `bull:{<queue>}` (or
 * `<prefix>:bull:{<queue>}`): every key of the queue (`bull:{agent__x}:agent__x:wait`, …) then lies in
 * one slot, as BullMQ's scripts need, and different queues hash to different slots, so they spread
 * over the masters. Standalone and Sentinel deployments pass no queue and keep their keys.
 */
export function bullPrefixFor(prefix: string, clusterQueue?: string): string {
  const bull = prefix ? `${prefix}:${BULLMQ_PREFIX}` : BULLMQ_PREFIX;
  return clusterQueue === undefined ? bull : clusterQueuePrefix(bull, clusterQueue);
}

/**
 * The BullMQ prefix of one queue on a Redis Cluster, given the base BullMQ prefix (`bull`,
 * `<REDIS_KEY_PREFIX>:bull`, or a caller's own): `<base>:{<queue>}`. The braces are the queue's hash
 * tag (queue names are `[A-Za-z0-9_-]`, so the tag is the whole name). Every package that opens a
 * queue on a cluster (defineQueue, workers, ops, dashboard, CLI) derives the prefix here.
 */
export function clusterQueuePrefix(base: string, queue: string): string {
  return `${base}:{${queue}}`;
}
