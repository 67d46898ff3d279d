import { notificationQueue, type NotificationChannel, type notificationJobSchema, type QueueDefinition } from '@platform/queue';
import type { Redis } from 'ioredis';

/** The queue definition of a notification channel (`notifications__<channel>`). */
export type NotificationQueueDefinition = QueueDefinition<typeof notificationJobSchema>;

/** Where a channel's queue lives. Shared by `notifyOnce`, `getNotificationStatus` and the worker. */
export interface NotificationQueueOptions {
  /**
   * Producer connection, used for the dedupe keys and (unless `queue` is given) the channel queue.
   * @defaultValue the process-wide shared `producer` connection
   */
  connection?: Redis;
  /** BullMQ key prefix of the channel queue. @defaultValue `'bull'` */
  prefix?: string;
  /**
   * A ready queue definition to use instead of `notificationQueue(channel, { connection, prefix })`
   * (for tests, or a queue with custom options). Its name should be `notifications__<channel>`.
   * @defaultValue none
   */
  queue?: NotificationQueueDefinition;
}

const memo = new Map<Redis | undefined, Map<string, NotificationQueueDefinition>>();

/**
 * The queue definition for a channel: `options.queue`, the catalog's shared definition when no
 * connection or prefix is given, or one definition per (connection, prefix, channel), kept for reuse.
 */
export function resolveNotificationQueue(channel: NotificationChannel, options: NotificationQueueOptions = {}): NotificationQueueDefinition {
  if (options.queue) return options.queue;
  if (!options.connection && options.prefix === undefined) return notificationQueue(channel);
  let perConnection = memo.get(options.connection);
  if (!perConnection) {
    perConnection = new Map();
    memo.set(options.connection, perConnection);
  }
  const id = `${options.prefix ?? ''}|${channel}`;
  let definition = perConnection.get(id);
  if (!definition) {
    definition = notificationQueue(channel, {
      ...(options.connection ? { connection: options.connection } : {}),
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    });
    perConnection.set(id, definition);
  }
  return definition;
}

/**
 * Closes the queues `notifyOnce` and `getNotificationStatus` opened for explicit connections or
 * prefixes (not the connections themselves; the catalog's shared queues close with `closeCatalogQueues`).
 */
export async function closeNotificationQueues(): Promise<void> {
  const all = [...memo.values()].flatMap((m) => [...m.values()]);
  memo.clear();
  await Promise.all(all.map((definition) => definition.close()));
}
