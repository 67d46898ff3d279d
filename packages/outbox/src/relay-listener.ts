import type { Pool, PoolClient } from 'pg';
import { toDatabaseError } from './errors';

/** What the relay's LISTEN connection needs. */
export interface ListenerOptions {
  pool: Pick<Pool, 'connect'>;
  channel: string;
  /** Wait before connecting again after an error. */
  retryDelayMs: number;
  /** Called on each NOTIFY of `channel`, and once LISTEN is (re-)established. */
  onNotify: () => void;
  onError: (error: Error) => void;
}

/** A LISTEN connection that re-establishes itself after an error until closed. */
export interface Listener {
  readonly listening: boolean;
  close(): Promise<void>;
}

/**
 * Holds one pool connection with `LISTEN <channel>`. After an error it releases (destroys) the
 * connection and connects again after `retryDelayMs`; on every (re-)connect it calls `onNotify`
 * once, since rows may have been committed while nobody listened.
 */
export function startListener(options: ListenerOptions): Listener {
  const quoted = `"${options.channel}"`;
  let closed = false;
  let client: PoolClient | undefined;
  let retry: NodeJS.Timeout | undefined;

  const scheduleRetry = () => {
    if (!closed) retry = setTimeout(() => (attempt = connect()), options.retryDelayMs);
  };
  const onNotification = (message: { channel: string }) => {
    if (message.channel === options.channel) options.onNotify();
  };
  // The handlers come off before a connection goes back to the pool, which hands it out again.
  const giveBack = (own: PoolClient, destroy: boolean) => {
    own.removeListener('notification', onNotification);
    own.removeListener('error', onConnectionError);
    own.release(destroy);
  };
  function onConnectionError(this: PoolClient, error: Error) {
    options.onError(toDatabaseError('relay LISTEN', error));
    if (client === this) {
      client = undefined;
      giveBack(this, true);
      scheduleRetry();
    }
  }
  // While the pool has no connection to give, close() does not wait for one (the pool may be full for long).
  let waitingForPool = false;
  const connect = async (): Promise<void> => {
    let candidate: PoolClient | undefined;
    try {
      waitingForPool = true;
      try {
        candidate = await options.pool.connect();
      } finally {
        waitingForPool = false;
      }
      if (closed) {
        candidate.release();
        return;
      }
      candidate.on('notification', onNotification);
      candidate.on('error', onConnectionError);
      await candidate.query(`LISTEN ${quoted}`);
      if (closed) {
        giveBack(candidate, true);
        return;
      }
      client = candidate;
      options.onNotify();
    } catch (error) {
      if (candidate) giveBack(candidate, true);
      if (closed) return;
      options.onError(toDatabaseError('relay LISTEN', error));
      scheduleRetry();
    }
  };
  let attempt = connect();

  return {
    get listening() {
      return client !== undefined;
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      // A connection the pool hands out later goes straight back (connect() sees `closed`).
      if (!waitingForPool) await attempt;
      const own = client;
      client = undefined;
      if (own) {
        await own.query(`UNLISTEN ${quoted}`).catch(() => undefined);
        giveBack(own, false);
      }
    },
  };
}
