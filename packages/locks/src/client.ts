import type { ScriptClient } from '@platform/redis';

/** The connection a client's `duplicate()` gives locks to hear releases on (Pub/Sub). */
export interface LockSubscriberConnection {
  readonly status: string;
  /** Only `message` (channel, message) and listeners that ignore their arguments are added. */
  on(event: string, listener: (...args: string[]) => void): unknown;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  disconnect(): void;
}

/**
 * The narrowest client locks and semaphores need: the scripts and `ZREM`, plus, to wake waiters on
 * a release instead of polling, `duplicate()` (a Pub/Sub connection), `on('end')` and, for a
 * Cluster, `isCluster` and `options.redisOptions`. Structural, not ioredis's `Redis` class: any
 * ioredis `Redis` or `Cluster` the peer range allows will do. Without the Pub/Sub part, waiters
 * poll and wake at the holder's expiry.
 */
export interface LockClient extends ScriptClient {
  zrem(key: string, ...members: string[]): Promise<unknown>;
  /** `Redis.duplicate(options)` or `Cluster.duplicate(nodes, options)`: told apart by `isCluster`. */
  duplicate?(...args: never[]): LockSubscriberConnection;
  on?(event: 'end', listener: () => void): unknown;
  readonly isCluster?: boolean;
}
