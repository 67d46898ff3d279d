import { notificationQueue, type NotificationChannel, type notificationJobSchema, type QueueDefinition } from '@platform/queue';
import { bullPrefixFor, resolveKeyPrefix, type RedisClient } from '@platform/redis';

/** The queue definition of a notification channel (`notifications__<channel>`). */
export type NotificationQueueDefinition = QueueDefinition<typeof notificationJobSchema>;

/** Where a channel's queue and keys live. Shared by `notifyOnce`, `getNotificationStatus` and the worker. */
export interface NotificationQueueOptions {
  /**
   * Producer connection, used for the dedupe keys and (unless `queue` is given) the channel queue.
   * @defaultValue the process-wide shared `producer` connection
   */
  connection?: RedisClient;
  /**
   * The key prefix of everything this package writes: the dedupe keys become
   * `<keyPrefix>:notify:…` and the channel queues live under the BullMQ prefix `<keyPrefix>:bull`.
   * `''` means none (`notify:…` and `bull`). Producers and workers of one queue must agree on it.
   * @defaultValue `REDIS_KEY_PREFIX` from the environment, else `''`
   */
  keyPrefix?: string;
  /**
   * A ready queue definition to use instead of `notificationQueue(channel, …)` (for tests, or a
   * queue with custom options). Its name should be `notifications__<channel>`. The dedupe keys
   * still follow `keyPrefix`.
   * @defaultValue none
   */
  queue?: NotificationQueueDefinition;
}

const memo = new Map<RedisClient | undefined, Map<string, NotificationQueueDefinition>>();

/**
 * The queue definition for a channel: `options.queue`, the catalog's shared definition when no
 * connection and no key prefix apply, or one definition per (connection, key prefix, channel), kept
 * for reuse.
 */
export function resolveNotificationQueue(channel: NotificationChannel, options: NotificationQueueOptions = {}): NotificationQueueDefinition {
  if (options.queue) return options.queue;
  const keyPrefix = resolveKeyPrefix(options.keyPrefix);
  if (!options.connection && keyPrefix === '') return notificationQueue(channel);
  let perConnection = memo.get(options.connection);
  if (!perConnection) {
    perConnection = new Map();
    memo.set(options.connection, perConnection);
  }
  const id = `${keyPrefix}|${channel}`;
  let definition = perConnection.get(id);
  if (!definition) {
    // On a cluster defineQueue appends the queue's hash tag to this base prefix.
    definition = notificationQueue(channel, {
      ...(options.connection ? { connection: options.connection } : {}),
      prefix: bullPrefixFor(keyPrefix),
    });
    perConnection.set(id, definition);
  }
  return definition;
}

/**
 * Closes the queues `notifyOnce` and `getNotificationStatus` opened for explicit connections or
 * key prefixes (not the connections themselves; the catalog's shared queues close with `closeCatalogQueues`).
 */
export async function closeNotificationQueues(): Promise<void> {
  const all = [...memo.values()].flatMap((m) => [...m.values()]);
  memo.clear();
  await Promise.all(all.map((definition) => definition.close()));
}
