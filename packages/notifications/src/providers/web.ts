import { checkInteger, getSharedConnection, namespacedKey, redisKey, resolveKeyPrefix, toUnavailableError, type RedisClient } from '@platform/redis';
import type { Cluster, Redis } from 'ioredis';
import { NotificationSendError } from '../errors';
import type { NotificationSender } from '../sender';
import { pushWebNotificationScript } from '../scripts';

/** Where in-app notifications live. Shared by {@link createWebSender} and {@link createWebInbox}. */
export interface WebInboxOptions {
  /** Redis for the users' lists. @defaultValue the process-wide shared `producer` connection */
  connection?: RedisClient;
  /** Key prefix (`<keyPrefix>:notify-web:…`). @defaultValue `REDIS_KEY_PREFIX`, else `''` */
  keyPrefix?: string;
}

/** Options of {@link createWebSender}. */
export interface WebSenderOptions extends WebInboxOptions {
  /** Most notifications kept per user; older ones are dropped. @defaultValue `100` */
  maxItems?: number;
  /** A user's notifications expire this long after the newest one arrived. @defaultValue `2592000` (30 days) */
  ttlSeconds?: number;
}

/** One in-app notification as a user's inbox holds it. */
export interface WebNotification {
  /** The notification's id (its idempotency key). */
  id: string;
  /** Notification type, e.g. `activity-completed`. */
  type: string;
  title: string;
  body: string;
  url?: string;
  /** When it was stored, ms since the epoch. */
  createdAt: number;
  /** Whether the user has read it (in `list` only; published notifications are unread). */
  read?: boolean;
}

/** The reader side of in-app notifications: what a web app's API calls. */
export interface WebInbox {
  /** The user's notifications, newest first, each with `read`. */
  list(tenantId: string, userId: string, options?: { limit?: number }): Promise<WebNotification[]>;
  /** How many of the user's notifications are unread. */
  unreadCount(tenantId: string, userId: string): Promise<number>;
  /** Marks the given notifications (or `'all'`) read; resolves how many were unread. */
  markRead(tenantId: string, userId: string, ids: readonly string[] | 'all'): Promise<number>;
  /**
   * Calls `onNotification` for every notification stored for the user from now on (Redis pub/sub
   * on a connection of its own). Resolves a function that stops it.
   */
  subscribe(tenantId: string, userId: string, onNotification: (notification: WebNotification) => void): Promise<() => Promise<void>>;
}

/**
 * A user's keys: `notify-web:{<tenantId>:<userId>}:items|unread|ids` behind the key prefix. The
 * braces are a Redis Cluster hash tag (`redisKey` escapes braces inside the parts), so the three
 * keys the push script touches share one slot. The pub/sub channel is not a key and keeps the
 * plain name `notify-web:<tenantId>:<userId>`.
 */
export function webInboxKeys(prefix: string, tenantId: string, userId: string) {
  const user = `${namespacedKey(prefix, 'notify-web')}:{${redisKey(tenantId, userId)}}`;
  return {
    list: `${user}:items`,
    unread: `${user}:unread`,
    ids: `${user}:ids`,
    channel: namespacedKey(prefix, 'notify-web', tenantId, userId),
  };
}

function unavailable(what: string) {
  return (error: unknown): never => {
    throw toUnavailableError(error, what);
  };
}

/**
 * In-app notifications kept in Redis: each user has a list of the newest `maxItems` (JSON, newest
 * first) with a TTL, a set of unread ids, and a pub/sub channel on which every new notification is
 * published for live delivery (a web socket or SSE endpoint relays it). A retry of a notification
 * already stored changes nothing. Read them with {@link createWebInbox}.
 *
 * Answers: stored (or already stored) → delivered with the notification id; Redis unreachable →
 * retryable.
 */
export function createWebSender(options: WebSenderOptions = {}): NotificationSender<'web'> {
  const maxItems = checkInteger('maxItems', options.maxItems ?? 100, 1, 10_000);
  const ttlMs = checkInteger('ttlSeconds', options.ttlSeconds ?? 30 * 86_400, 1) * 1000;
  const prefix = resolveKeyPrefix(options.keyPrefix);
  return {
    provider: 'redis-inbox',
    async send(message, context) {
      const keys = webInboxKeys(prefix, context.tenantId, message.userId);
      const item: WebNotification = {
        id: context.idempotencyKey,
        type: context.type,
        title: message.title,
        body: message.body,
        ...(message.url !== undefined ? { url: message.url } : {}),
        createdAt: Date.now(),
      };
      const redis = options.connection ?? getSharedConnection('producer');
      try {
        await pushWebNotificationScript.run(redis, [keys.list, keys.unread, keys.ids], [item.id, JSON.stringify(item), maxItems, ttlMs, keys.channel]);
      } catch (error) {
        throw new NotificationSendError(`web inbox: ${(error as Error).message}`, { retryable: true, cause: error });
      }
      return { providerMessageId: item.id };
    },
  };
}

/** The reader API of in-app notifications stored by {@link createWebSender}. */
export function createWebInbox(options: WebInboxOptions = {}): WebInbox {
  const prefix = resolveKeyPrefix(options.keyPrefix);
  const redis = () => options.connection ?? getSharedConnection('producer');
  return {
    async list(tenantId, userId, listOptions = {}) {
      const limit = checkInteger('limit', listOptions.limit ?? 50, 1, 10_000);
      const keys = webInboxKeys(prefix, tenantId, userId);
      const result = await redis()
        .multi()
        .lrange(keys.list, 0, limit - 1)
        .smembers(keys.unread)
        .exec()
        .catch(unavailable('web inbox list'));
      const [[, raw], [, unread]] = result as [[unknown, string[]], [unknown, string[]]];
      const unreadIds = new Set(unread);
      return raw.map((text) => {
        const item = JSON.parse(text) as WebNotification;
        return { ...item, read: !unreadIds.has(item.id) };
      });
    },
    async unreadCount(tenantId, userId) {
      return redis().scard(webInboxKeys(prefix, tenantId, userId).unread).catch(unavailable('web inbox unreadCount'));
    },
    async markRead(tenantId, userId, ids) {
      const keys = webInboxKeys(prefix, tenantId, userId);
      if (ids === 'all') {
        const [[, count]] = (await redis().multi().scard(keys.unread).del(keys.unread).exec().catch(unavailable('web inbox markRead'))) as [[unknown, number]];
        return count;
      }
      if (ids.length === 0) return 0;
      return redis().srem(keys.unread, ...ids).catch(unavailable('web inbox markRead'));
    },
    async subscribe(tenantId, userId, onNotification) {
      const channel = webInboxKeys(prefix, tenantId, userId).channel;
      const parent = redis();
      // duplicate() has one signature per client class; TypeScript cannot call it on the union.
      const subscriber: RedisClient = parent.isCluster ? (parent as Cluster).duplicate() : (parent as Redis).duplicate();
      subscriber.on('error', () => undefined);
      subscriber.on('message', (from: string, text: string) => {
        if (from !== channel) return;
        try {
          onNotification(JSON.parse(text) as WebNotification);
        } catch {
          // A malformed message or a throwing callback must not end the subscription.
        }
      });
      await subscriber.subscribe(channel).catch(async (error: unknown) => {
        subscriber.disconnect();
        throw toUnavailableError(error, 'web inbox subscribe');
      });
      return async () => {
        await subscriber.quit().catch(() => subscriber.disconnect());
      };
    },
  };
}
