import { InvalidArgumentError, namespacedKey } from '@platform/redis';

/**
 * The Redis Cluster hash tag of a key (the part hashed for its slot), or `undefined` when the key
 * has none: the first `{` followed later by a `}` with at least one character between them.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

/**
 * A key that belongs to the lock key `key`: it always lies in the lock key's hash slot (Redis
 * Cluster runs a script only when all its keys do), and it starts with the lock key, so
 * `SCAN lock:*` and ACL key patterns cover both.
 * - a key with a hash tag (`lock:{order-7}`) -> `lock:{order-7}:<suffix>` (same tag);
 * - a key without braces (`lock:activity:a1`) -> `lock:activity:a1:<suffix>{lock:activity:a1}`
 *   (the tag is the whole lock key, which is exactly what the lock key's slot is computed from);
 * - a key with braces that do not form a tag (`a{}b`, `a}b`) cannot be paired: InvalidArgumentError.
 */
function companionKeyFor(key: string, suffix: string): string {
  if (hashTagOf(key) !== undefined) return `${key}:${suffix}`;
  if (key.includes('{') || key.includes('}')) {
    throw new InvalidArgumentError(
      'key',
      'braces must form a Redis Cluster hash tag such as "lock:{order-7}" (or leave them out); build keys with redisKey',
    );
  }
  return `${key}:${suffix}{${key}}`;
}

/**
 * The fence counter key of a lock key (see {@link companionKeyFor} for its form):
 * `lock:{order-7}` -> `lock:{order-7}:fence`, `lock:activity:a1` -> `lock:activity:a1:fence{lock:activity:a1}`.
 * @throws InvalidArgumentError for braces that do not form a hash tag (`a{}b`, `a}b`).
 */
export function fenceKeyFor(key: string): string {
  return companionKeyFor(key, 'fence');
}

/**
 * The waiters key of a lock key: a sorted set of the processes that wait for the lock (always with
 * a TTL); a release announces itself on the release channel only while it exists.
 * `lock:{order-7}` -> `lock:{order-7}:waiters`, `lock:activity:a1` -> `lock:activity:a1:waiters{lock:activity:a1}`.
 * @throws InvalidArgumentError for braces that do not form a hash tag (`a{}b`, `a}b`).
 */
export function waitersKeyFor(key: string): string {
  return companionKeyFor(key, 'waiters');
}

/** The Pub/Sub channel on which releases of `key` are announced (channels are not keys). */
export function releaseChannelFor(key: string): string {
  return `${key}:released`;
}

/**
 * `lock:activity:<activityId>` (escaped with `redisKey`), behind the key prefix `keyPrefix`
 * (a resolved prefix: `''` for none).
 */
export function activityLockKey(activityId: string, keyPrefix = ''): string {
  if (typeof activityId !== 'string' || activityId.length === 0) {
    throw new InvalidArgumentError('activityId', 'must be a non-empty string');
  }
  return namespacedKey(keyPrefix, 'lock', 'activity', activityId);
}
