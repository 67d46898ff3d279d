import { Redis, type Cluster } from 'ioredis';
import { redisServerAvailable, startRedisCluster, type RedisCluster } from '@platform/testing';
import { loadRedisConfig } from './config';
import { createRedisConnection } from './connection';
import { createSlotConnection } from './slot-connection';

// A Redis Cluster of its own (3 masters, 1 replica each, short node timeout for the failover test).
// Runs in the standalone project only (jest/projects.js STANDALONE_ONLY_FILES).

if (!redisServerAvailable()) throw new Error('redis-server is required for the slot connection tests');

let cluster: RedisCluster;
let router: Cluster;
const opened: Redis[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  router = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv }), { role: 'producer' }) as Cluster;
  await router.ping();
}, 90_000);

afterAll(async () => {
  for (const client of opened) client.disconnect();
  router?.disconnect();
  await cluster?.stop();
});

/** The port of the master serving `key` now, asked from the cluster (not from a client's table). */
async function masterPortOf(key: string): Promise<number> {
  const slot = Number(await router.call('CLUSTER', 'KEYSLOT', key));
  for (const port of await cluster.masterPorts()) {
    const node = new Redis({ port, lazyConnect: true });
    try {
      const ranges = (await node.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
      for (const [from, to, master] of ranges) if (slot >= from && slot <= to) return Number(master[1]);
    } finally {
      node.disconnect();
    }
  }
  throw new Error(`no master serves slot ${slot}`);
}

function slotConnection(key: string, role: 'worker' | 'producer'): Redis {
  const client = createSlotConnection(router, key, { role });
  opened.push(client);
  return client;
}

describe('createSlotConnection: a plain connection to the master of one slot', () => {
  it('talks to the master serving the key, and so does its duplicate (BullMQ blocking connection)', async () => {
    const key = 'bull:{slot-a}:q:meta';
    const client = slotConnection(key, 'producer');
    await client.set(key, 'v');
    expect(client.isCluster).toBe(false);
    expect(client.stream.remotePort).toBe(await masterPortOf(key));
    const duplicate = client.duplicate();
    opened.push(duplicate);
    expect(await duplicate.get(key)).toBe('v');
    expect(duplicate.stream.remotePort).toBe(client.stream.remotePort);
    // A key of the same slot works; the connection does not route other slots (one slot per connection).
    expect(await client.incr('bull:{slot-a}:q:id')).toBe(1);
  });

  it('follows the slot when it moves to another master: MOVED makes it reconnect there and send the command again', async () => {
    const key = 'bull:{slot-moved}:q:meta';
    const client = slotConnection(key, 'worker');
    await client.del(key);
    const fromPort = await masterPortOf(key);
    expect(client.stream.remotePort).toBe(fromPort);
    // Reassign the (empty) slot to another master on every master: the old one now answers MOVED.
    const slot = Number(await router.call('CLUSTER', 'KEYSLOT', key));
    const masters = await cluster.masterPorts();
    const toPort = masters.find((port) => port !== fromPort)!;
    const target = new Redis({ port: toPort });
    const targetId = String(await target.call('CLUSTER', 'MYID'));
    target.disconnect();
    for (const port of masters) {
      const node = new Redis({ port });
      await node.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      node.disconnect();
    }
    expect(await client.set(key, 'moved')).toBe('OK');
    expect(client.stream.remotePort).toBe(toPort);
    const direct = new Redis({ port: toPort });
    expect(await direct.get(key)).toBe('moved');
    direct.disconnect();
  });

  it('ends with its router, duplicates too (nothing reconnects to a cluster its owner closed)', async () => {
    const ownRouter = createRedisConnection(loadRedisConfig({ REDIS_CLUSTER_NODES: cluster.nodesEnv }), { role: 'producer' }) as Cluster;
    const client = createSlotConnection(ownRouter, 'bull:{slot-end}:q:meta', { role: 'worker' });
    const duplicate = client.duplicate();
    await Promise.all([client.ping(), duplicate.ping()]);
    const ended = Promise.all([client, duplicate].map((c) => new Promise<void>((resolve) => c.once('end', () => resolve()))));
    await ownRouter.quit();
    await ended;
    expect([client.status, duplicate.status]).toEqual(['end', 'end']);
  });

  it('follows a failover: the master is SIGKILLed, its replica promoted, and a worker connection carries on there', async () => {
    const key = 'bull:{slot-failover}:q:meta';
    const client = slotConnection(key, 'worker');
    await client.set(key, 'before');
    // Let the replica catch up, so the value survives the promotion.
    expect(Number(await client.call('WAIT', 1, 2000))).toBe(1);
    const oldPort = client.stream.remotePort!;
    await cluster.nodes.find((node) => node.port === oldPort)!.server.kill();
    // A worker connection waits (no retry limit) until the promoted replica answers.
    expect(await client.get(key)).toBe('before');
    expect(client.stream.remotePort).not.toBe(oldPort);
    expect(client.stream.remotePort).toBe(await masterPortOf(key));
  }, 60_000);
});
