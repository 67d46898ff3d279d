import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AbstractConnector, Redis, type Cluster, type RedisOptions } from 'ioredis';
import { keySlot } from './cluster-slots';
import { reconnectDelay, type ConnectionRole } from './connection';

/** A socket ioredis can use (what its own connectors return). */
type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** Longest wait for the cluster client's slot table before connecting to the last known master. */
const SLOT_LOOKUP_TIMEOUT_MS = 2000;

/** Replies after which the connection re-resolves its master and resends the command. */
const NOT_THIS_MASTER = /^(MOVED|ASK|READONLY|CLUSTERDOWN|MASTERDOWN|LOADING) /;

/** The `host:port` of the master serving `slot` in `router`'s slot table, if it has one. */
function masterOfSlot(router: Cluster, slot: number): string | undefined {
  return router.slots[slot]?.[0];
}

/** Resolves when `router` emits `event`, or after `timeoutMs`. */
function eventOrTimeout(router: Cluster, event: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      router.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    router.once(event, done);
  });
}

/**
 * The master serving `slot` as `router` knows it, after `router` is ready (its slot table loaded)
 * and, with `reload`, after it reloaded the table (bounded waits; never throws).
 */
async function currentMaster(router: Cluster, slot: number, reload: boolean): Promise<string | undefined> {
  if (router.status === 'wait') router.connect().catch(() => undefined);
  if (router.status !== 'ready' && router.status !== 'end') await eventOrTimeout(router, 'ready', SLOT_LOOKUP_TIMEOUT_MS);
  if (reload && router.status === 'ready') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SLOT_LOOKUP_TIMEOUT_MS);
      router.refreshSlotsCache(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return masterOfSlot(router, slot);
}

/**
 * An ioredis connector that connects to whichever master serves one hash slot, as `router` (a
 * `Cluster` client) knows it: on every connect (the first, and each reconnect after the socket
 * closed, e.g. when the master died and a replica took over) it asks `router` to reload the slot
 * table first. When no table can be had in time it connects to the last known master (the socket
 * then fails and ioredis reconnects with its `retryStrategy`), so it never rejects: a rejected
 * connect would end the client for good.
 */
function slotMasterConnector(router: Cluster, slot: number): new (options: unknown) => AbstractConnector {
  let lastKnown: string | undefined;
  return class SlotMasterConnector extends AbstractConnector {
    private readonly options: RedisOptions;

    constructor(options: unknown) {
      const redisOptions = options as RedisOptions;
      super(redisOptions.disconnectTimeout ?? 2000);
      this.options = redisOptions;
    }

    connect(): Promise<NetStream> {
      this.connecting = true;
      return (async () => {
        // The first connect takes the table as loaded; a reconnect reloads it unless it already
        // names another master than the one the socket was connected to.
        const reload = lastKnown !== undefined && masterOfSlot(router, slot) === lastKnown;
        const address = (await currentMaster(router, slot, reload)) ?? lastKnown ?? firstStartupNode(router);
        lastKnown = address;
        if (!this.connecting) throw new Error('Connection is closed.');
        const colon = address.lastIndexOf(':');
        const host = address.slice(0, colon);
        const port = Number(address.slice(colon + 1));
        const { tls } = this.options;
        const stream: NetStream = tls ? tlsConnect({ ...tls, host, port }) : createConnection({ host, port });
        this.stream = stream;
        stream.once('error', (error: Error) => {
          this.firstError = error;
        });
        return stream;
      })();
    }
  };
}

function firstStartupNode(router: Cluster): string {
  const node = (router as unknown as { startupNodes?: Array<{ host?: string; port?: number }> }).startupNodes?.[0];
  return `${node?.host ?? '127.0.0.1'}:${node?.port ?? 6379}`;
}

/**
 * A plain `Redis` connection to the master that serves `key`'s hash slot on the cluster behind
 * `router`, for a client whose every key lies in that one slot (a BullMQ queue: its keys share the
 * queue's hash tag). Commands go straight to that master, without ioredis `Cluster`'s routing
 * (hashing every key of every command, one connection per master): measured in bench/README.md
 * ("Redis Cluster: a connection per queue's master").
 *
 * It follows the slot: after the socket closes (the master died, a replica was promoted) it
 * reconnects to the master `router`'s reloaded slot table names; a reply that says the slot is
 * served elsewhere or not now (`MOVED`, `ASK`, `READONLY`, `CLUSTERDOWN`, `MASTERDOWN`, `LOADING`)
 * makes it reconnect the same way and send that command again. The options are `router`'s node
 * options (password, TLS, timeouts) with the `role`'s retry and ready-check settings; `duplicate()`
 * (BullMQ's blocking connection) follows the same slot. It ends when `router` ends.
 *
 * @param router - the cluster client whose slot table is followed (not closed with this connection)
 * @param key - any key of the slot (e.g. a queue's prefix with its hash tag)
 */
export function createSlotConnection(router: Cluster, key: string, options: { role?: ConnectionRole; connectionName?: string } = {}): Redis {
  const role = options.role ?? 'producer';
  const node = router.options.redisOptions ?? {};
  const client = new Redis({
    ...node,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    Connector: slotMasterConnector(router, keySlot(key)),
    retryStrategy: reconnectDelay,
    // Resend after the reconnect: the command was refused, not run (MOVED and the rest are replies
    // that the server ran nothing of it).
    reconnectOnError: (error: Error) => (NOT_THIS_MASTER.test(error.message) ? 2 : false),
    ...(role === 'worker' ? { maxRetriesPerRequest: null, enableReadyCheck: false } : { enableReadyCheck: true }),
  });
  client.on('error', () => undefined);
  endWithRouter(router, client);
  // BullMQ's blocking connection is a duplicate: it follows the slot (the Connector is copied with
  // the options) and ends with the router too.
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override?: Partial<RedisOptions>): Redis => {
    const copy = duplicate(override);
    endWithRouter(router, copy);
    return copy;
  };
  return client;
}

/** The open slot connections of each router, ended when it ends (see {@link endWithRouter}). */
const connectionsOf = new WeakMap<Cluster, Set<Redis>>();

/**
 * Ends `client` when `router` ends (closed by its owner, e.g. `closeSharedConnections()`): without
 * the router's slot table it could not follow its slot any more, and it would otherwise go on
 * reconnecting to a cluster its owner is done with. One `end` listener per router.
 */
function endWithRouter(router: Cluster, client: Redis): void {
  let clients = connectionsOf.get(router);
  if (!clients) {
    const set = new Set<Redis>();
    clients = set;
    connectionsOf.set(router, set);
    router.once('end', () => {
      connectionsOf.delete(router);
      for (const open of set) open.disconnect();
    });
  }
  clients.add(client);
  client.once('end', () => clients.delete(client));
}
