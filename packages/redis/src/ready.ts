/**
 * What {@link untilFirstReady} reads of a client. Any ioredis `Redis` or `Cluster` has it; a
 * client without `status` (a wrapper, a pipeline) is never waited for.
 */
interface ConnectingClient {
  status?: string;
  options?: { enableOfflineQueue?: boolean; connectTimeout?: number; redisOptions?: { connectTimeout?: number } };
  once?(event: string, listener: () => void): unknown;
  removeListener?(event: string, listener: () => void): unknown;
  connect?(): Promise<unknown>;
}

/** ioredis's own default `connectTimeout`. */
const IOREDIS_CONNECT_TIMEOUT_MS = 10_000;

const seenReady = new WeakSet<object>();

/**
 * A client made with `enableOfflineQueue: false` refuses every command sent before its first
 * `ready` ("Stream isn't writeable"), so the first call after startup would fail although Redis is
 * fine. This resolves once such a client is ready, its connection attempt failed (`close`), or its
 * connect timeout passed, whichever comes first; the command is sent after it, so it was never sent
 * twice. It returns `undefined` (no wait) for a client that is ready, has been ready before as far
 * as this module saw (a later outage still fails fast), queues offline commands anyway, or is
 * reconnecting after a failed attempt.
 */
export function untilFirstReady(client: object): Promise<void> | undefined {
  const c = client as ConnectingClient;
  if (c.status === 'ready') {
    seenReady.add(client);
    return undefined;
  }
  if (c.options?.enableOfflineQueue !== false || seenReady.has(client)) return undefined;
  if (c.status !== 'wait' && c.status !== 'connecting' && c.status !== 'connect') return undefined;
  const { once, removeListener } = c;
  if (typeof once !== 'function' || typeof removeListener !== 'function') return undefined;
  const timeoutMs = c.options.connectTimeout ?? c.options.redisOptions?.connectTimeout ?? IOREDIS_CONNECT_TIMEOUT_MS;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const event of ['ready', 'close', 'end']) removeListener.call(client, event, done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const event of ['ready', 'close', 'end']) once.call(client, event, done);
    // A lazyConnect client in `wait` connects on its first command, which it would then refuse.
    if (c.status === 'wait') c.connect?.().catch(() => undefined);
  });
}
