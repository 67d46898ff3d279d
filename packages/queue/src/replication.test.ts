// waitForReplicas: an enqueue resolves only once a replica has the job (Redis WAIT on the producer
// connection), so a failover cannot lose it. A master and a replica of our own; the replica is
// frozen with SIGSTOP to play a replica that has fallen behind.
import { closeConnection, createRedisConnection, InvalidArgumentError, loadRedisConfig, type RedisClient } from '@platform/redis';
import { startRedisServer, waitFor, type RedisServer } from '@platform/testing';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { QueueNotReplicatedError, QueueUnavailableError } from './errors';

let master: RedisServer;
let replica: RedisServer;
let replicaClient: Redis;
let frozen = false;
const clients: RedisClient[] = [];
const schema = z.object({ n: z.number() });

function freezeReplica(): void {
  process.kill(replica.pid, 'SIGSTOP');
  frozen = true;
}
function thawReplica(): void {
  if (frozen) process.kill(replica.pid, 'SIGCONT');
  frozen = false;
}

function producer(): RedisClient {
  const client = createRedisConnection(loadRedisConfig({ REDIS_URL: master.url }), { role: 'producer' });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  master = await startRedisServer();
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  replicaClient = new Redis(replica.url);
  await waitFor(async () => (await replicaClient.info('replication')).includes('master_link_status:up'), 30_000);
});

afterEach(() => thawReplica());

afterAll(async () => {
  thawReplica();
  await Promise.all(clients.map((c) => closeConnection(c)));
  replicaClient.disconnect();
  await replica.stop();
  await master.stop();
});

describe('waitForReplicas', () => {
  it('resolves only when the replica has the job: the job is readable on the replica at once', async () => {
    const queue = defineQueue({ namespace: 'repl', name: 'ok', schema, connection: producer(), waitForReplicas: { replicas: 1 } });
    for (let i = 0; i < 20; i++) {
      const job = await queue.enqueue({ tenantId: 'acme', n: i });
      // No waiting: WAIT returned only after the replica acknowledged the add.
      expect(JSON.parse((await replicaClient.hget(`bull:${queue.name}:${job.id}`, 'data')) ?? 'null')).toEqual({ tenantId: 'acme', n: i });
    }
    const jobs = await queue.enqueueBulk([{ tenantId: 'acme', n: 100 }, { tenantId: 'beta', n: 101 }]);
    for (const job of jobs) expect(await replicaClient.exists(`bull:${queue.name}:${job.id}`)).toBe(1);
    await queue.close();
  });

  it('rejects with QueueNotReplicatedError when the replica does not confirm in time; a retry with the same jobId adds nothing twice', async () => {
    const connection = producer();
    const queue = defineQueue({ namespace: 'repl', name: 'behind', schema, connection, waitForReplicas: { replicas: 1, timeoutMs: 300 } });
    const plain = defineQueue({ namespace: 'repl', name: 'behind', schema, connection });
    await queue.enqueue({ tenantId: 'acme', n: 0 }, { jobId: 'warm' });
    freezeReplica();
    // Without the option the same enqueue resolves although no replica has it: what a failover loses.
    await expect(plain.enqueue({ tenantId: 'acme', n: 1 }, { jobId: 'unconfirmed' })).resolves.toBeDefined();
    const error = await queue.enqueue({ tenantId: 'acme', n: 2 }, { jobId: 'confirmed' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueNotReplicatedError);
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect(error).toMatchObject({ code: 'QUEUE_UNAVAILABLE', replicasConfirmed: 0, replicasRequired: 1 });
    const bulkError = await queue.enqueueBulk([{ tenantId: 'acme', n: 3 }]).catch((e: unknown) => e);
    expect(bulkError).toBeInstanceOf(QueueNotReplicatedError);
    thawReplica();
    // The retry finds the job BullMQ already has and waits until the replica has it too.
    const retried = await queue.enqueue({ tenantId: 'acme', n: 2 }, { jobId: 'confirmed' });
    expect(retried.id).toBe('confirmed');
    expect(await replicaClient.exists(`bull:${queue.name}:confirmed`)).toBe(1);
    expect(await queue.queue.getJobCountByTypes('waiting')).toBe(4);
    await queue.close();
    await plain.close();
  });

  it('a reconnect between the add and WAIT is not taken as confirmation', async () => {
    const connection = producer();
    const queue = defineQueue({ namespace: 'repl', name: 'reconnect', schema, connection, waitForReplicas: { replicas: 1, timeoutMs: 500 } });
    await queue.enqueue({ tenantId: 'acme', n: 0 });
    // Drop the socket just as WAIT is sent: WAIT then runs on a fresh connection that wrote nothing,
    // for which Redis would report every connected replica at once (as after a failover).
    const call = connection.call.bind(connection) as (...args: unknown[]) => Promise<unknown>;
    const spy = jest.spyOn(connection, 'call').mockImplementation((async (...args: unknown[]) => {
      if (String(args[0]).toUpperCase() === 'WAIT') {
        const ready = new Promise((resolve) => connection.once('ready', resolve));
        (connection as Redis).stream.destroy();
        await ready;
      }
      return call(...args);
    }) as never);
    const error = await queue.enqueue({ tenantId: 'acme', n: 1 }).catch((e: unknown) => e);
    spy.mockRestore();
    expect(error).toBeInstanceOf(QueueNotReplicatedError);
    expect(error).toMatchObject({ replicasConfirmed: 0, replicasRequired: 1 });
    await queue.close();
  });

  it('rejects bad options when the queue is defined', () => {
    const bad: unknown[] = [{ replicas: 0 }, { replicas: 1.5 }, { replicas: '1' }, { replicas: 1, timeoutMs: 0 }, { replicas: 1, timeoutMs: 5000 }, null];
    for (const waitForReplicas of bad) {
      expect(() => defineQueue({ namespace: 'repl', name: 'bad', schema, waitForReplicas: waitForReplicas as never })).toThrow(InvalidArgumentError);
    }
    expect(defineQueue({ namespace: 'repl', name: 'good', schema, waitForReplicas: { replicas: 2 } }).settings.waitForReplicas).toEqual({ replicas: 2, timeoutMs: 1000 });
  });
});
