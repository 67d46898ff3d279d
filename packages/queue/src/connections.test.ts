import { closeConnection, createRedisConnection, loadRedisConfig, type RedisConfig } from '@platform/redis';
import { startRedisServer, waitFor, type RedisServer } from '@platform/testing';
import type { Worker } from 'bullmq';
import { z } from 'zod';
import { defineQueue, type QueueDefinition } from './define-queue';
import { QueueUnavailableError } from './errors';
import { createWorker } from './worker';

let server: RedisServer;
let config: RedisConfig;

beforeAll(async () => {
  server = await startRedisServer();
  config = loadRedisConfig({ REDIS_URL: server.url });
});
afterAll(async () => {
  await server.stop();
});

const schema = z.object({ n: z.number() });

async function clientNames(admin: ReturnType<typeof createRedisConnection>): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .trim()
    .split('\n')
    .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '');
}

describe('connection use', () => {
  it('ten queues with their producers and workers stay within 2 + one per worker connections', async () => {
    const producer = createRedisConnection(config, { role: 'producer' });
    const workerConnection = createRedisConnection(config, { role: 'worker' });
    const admin = createRedisConnection(config, { connectionName: 'test-admin' });
    const definitions: QueueDefinition<typeof schema>[] = [];
    const workers: Worker[] = [];
    let processed = 0;
    for (let i = 0; i < 10; i++) {
      const definition = defineQueue({ namespace: 'agent', name: `role-${i}`, schema, connection: producer });
      definitions.push(definition);
      workers.push(createWorker(definition, async () => void processed++, { connection: workerConnection, handleSignals: false }));
    }
    await Promise.all(definitions.map((d, i) => d.enqueue({ tenantId: 'acme', n: i })));
    await waitFor(() => processed === 10);
    const names = (await clientNames(admin)).filter((name) => name !== 'test-admin');
    // Documented bound: 1 producer + 1 shared worker connection + 1 blocking connection per worker.
    expect(names.length).toBeLessThanOrEqual(2 + workers.length);
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(definitions.map((d) => d.close()));
    await Promise.all([producer, workerConnection, admin].map(closeConnection));
  });
});

describe('when Redis is down', () => {
  it('enqueue rejects with QueueUnavailableError within the bound, and succeeds again after Redis returns', async () => {
    const producer = createRedisConnection(config, { role: 'producer', commandTimeoutMs: 1000 });
    const workerConnection = createRedisConnection(config, { role: 'worker' });
    const definition = defineQueue({ namespace: 'agent', name: 'failfast', schema, connection: producer, enqueueTimeoutMs: 1500, onError: () => undefined });
    const done: number[] = [];
    const worker = createWorker(definition, async (job) => void done.push(job.data.n), {
      connection: workerConnection,
      handleSignals: false,
      onError: () => undefined,
    });
    await definition.enqueue({ tenantId: 'acme', n: 1 });
    await waitFor(() => done.includes(1));

    await server.stop();
    const started = Date.now();
    const error = await definition.enqueue({ tenantId: 'acme', n: 2 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect((error as QueueUnavailableError).code).toBe('QUEUE_UNAVAILABLE');
    expect(elapsed).toBeLessThan(4000); // generous bound over enqueueTimeoutMs

    await server.restart();
    await waitFor(async () => definition.enqueue({ tenantId: 'acme', n: 3 }).then(() => true, () => false), 15_000, 200);
    await waitFor(() => done.includes(3), 15_000); // the worker reconnected by itself
    await worker.close();
    await definition.close();
    await Promise.all([producer, workerConnection].map(closeConnection));
  });

  it('enqueue on a queue whose Redis never came up rejects within the bound', async () => {
    const deadConfig = loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:1' });
    const producer = createRedisConnection(deadConfig, { role: 'producer' });
    const definition = defineQueue({ namespace: 'agent', name: 'never-up', schema, connection: producer, enqueueTimeoutMs: 1000, onError: () => undefined });
    const started = Date.now();
    await expect(definition.enqueue({ tenantId: 'acme', n: 1 })).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(Date.now() - started).toBeLessThan(3000);
    producer.disconnect();
    await definition.close().catch(() => undefined);
  });
});

/**
 * Runs `refused` with Redis's maxmemory set `headroom` bytes above what it uses now (noeviction:
 * writes past it are refused with OOM), on a queue of its own; then checks what `counts` says was
 * left, with the limit lifted.
 */
async function underMaxmemory(
  name: string,
  headroom: number,
  fairness: 'per-tenant' | undefined,
  refused: (definition: QueueDefinition<z.ZodObject<{ text: z.ZodString }>>) => Promise<void>,
): Promise<Awaited<ReturnType<QueueDefinition<z.ZodObject<{ text: z.ZodString }>>['counts']>>> {
  const producer = createRedisConnection(config, { role: 'producer' });
  const definition = defineQueue({ namespace: 'agent', name, schema: z.object({ text: z.string() }), connection: producer, ...(fairness ? { fairness } : {}) });
  try {
    const used = Number(/used_memory:(\d+)/.exec(await producer.info('memory'))![1]);
    await producer.config('SET', 'maxmemory-policy', 'noeviction');
    await producer.config('SET', 'maxmemory', String(used + headroom));
    try {
      await refused(definition);
    } finally {
      await producer.config('SET', 'maxmemory', '0');
    }
    return await definition.counts();
  } finally {
    await definition.obliterate();
    await definition.close();
    await closeConnection(producer);
  }
}

/** Ten payloads of about 200 kB each: room for about two of them in 500 kB. */
const bigPayloads = Array.from({ length: 10 }, (_, i) => ({ tenantId: 'acme', text: `${i}`.repeat(200_000) }));

describe('Redis refusing writes (maxmemory reached under noeviction)', () => {
  it('a plain queue adds all of a batch or none: maxmemory reached in the middle of it leaves no job of the batch', async () => {
    const counts = await underMaxmemory('bulk-oom', 500_000, undefined, async (definition) => {
      await expect(definition.enqueueBulk(bigPayloads)).rejects.toThrow(QueueUnavailableError);
    });
    expect(counts.waiting).toBe(0);
  });

  it('a fair queue adds its delayed jobs of a batch all or none', async () => {
    const counts = await underMaxmemory('bulk-oom-fair', 500_000, 'per-tenant', async (definition) => {
      await expect(definition.enqueueBulk(bigPayloads, bigPayloads.map(() => ({ delay: 60_000 })))).rejects.toThrow(QueueUnavailableError);
    });
    expect(counts.delayed).toBe(0);
  });

  it('enqueue and enqueueBulk reject with QueueUnavailableError naming the reason, not a raw reply error, and write nothing', async () => {
    const counts = await underMaxmemory('oom', -100_000, undefined, async (definition) => {
      const one = await definition.enqueue({ tenantId: 'acme', text: 'x' }).catch((error: unknown) => error);
      expect(one).toBeInstanceOf(QueueUnavailableError);
      expect((one as Error).message).toMatch(/OOM/);
      const bulk = await definition.enqueueBulk([{ tenantId: 'acme', text: 'y' }, { tenantId: 'acme', text: 'z' }]).catch((error: unknown) => error);
      expect(bulk).toBeInstanceOf(QueueUnavailableError);
    });
    expect(counts.waiting).toBe(0);
  });
});
