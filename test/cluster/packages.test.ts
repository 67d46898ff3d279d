// Limiter, locks, notifyOnce and sessions on a real 3-master cluster, through connections made from
// REDIS_CLUSTER_NODES. Every key of one script must share a slot, or the cluster answers CROSSSLOT.
import { z } from 'zod';
import { acquireLock, withLock } from '@platform/locks';
import { closeNotificationQueues, getNotificationStatus, notifyOnce } from '@platform/notifications';
import { notificationJobId, notifyKey } from '../../packages/notifications/src/keys';
import { resolveNotificationQueue } from '../../packages/notifications/src/queues';
import { createRateLimiter } from '@platform/ratelimit';
import { checkRedisServer } from '@platform/redis';
import { clusterOptionsFor, createRedisConnection, closeConnection } from '../../packages/redis/src/connection';
import { createSessionStore } from '@platform/sessions';
import { uniquePrefix, waitFor } from '@platform/testing';
import { CLUSTER_TEST_TIMEOUT_MS, keysPerMaster, size, useRedisCluster } from './cluster-setup';

jest.setTimeout(CLUSTER_TEST_TIMEOUT_MS);

const ctx = useRedisCluster();

describe('connections on a cluster', () => {
  it('REDIS_CLUSTER_NODES gives Cluster connections with the per-role options', async () => {
    const worker = clusterOptionsFor(ctx.config, { role: 'worker' });
    expect(worker.redisOptions?.maxRetriesPerRequest).toBeNull();
    expect(worker.enableReadyCheck).toBe(false);
    expect(worker.scaleReads).toBe('master');
    const producer = clusterOptionsFor(ctx.config, { role: 'producer' });
    expect(producer.redisOptions?.maxRetriesPerRequest).toBe(2);
    expect(producer.redisOptions?.commandTimeout).toBe(5000);
    expect(producer.enableReadyCheck).toBe(true);

    const client = createRedisConnection(ctx.config, { role: 'producer' });
    expect(client.isCluster).toBe(true);
    const prefix = uniquePrefix('conn');
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`);
    await Promise.all(keys.map((key, i) => client.set(key, String(i))));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => String(i)));
    // Plain keys spread by their own slot: 30 of them land on every master.
    const spread = await keysPerMaster(client as never, `${prefix}:*`);
    expect([...spread.values()].every((count) => count > 0)).toBe(true);
    await closeConnection(client);
    expect(client.status).toBe('end');
  });
});

describe('doctor on a cluster', () => {
  it('checks every master and replica, and that all slots are served and each master has a replica', async () => {
    const report = await checkRedisServer(ctx.connect(), { rttSamples: 3 });
    const modes = report.checks.filter((check) => check.id === 'mode');
    expect(modes).toHaveLength(6);
    expect(modes.every((check) => check.status === 'PASS')).toBe(true);
    expect(modes.filter((check) => check.value.includes(' replica: '))).toHaveLength(3);
    expect(report.checks.find((check) => check.id === 'cluster-slots')).toMatchObject({ status: 'PASS', value: '16384/16384, state ok' });
    expect(report.checks.find((check) => check.id === 'cluster-replicas')?.status).toBe('PASS');
  });
});

describe('rate limiters on a cluster', () => {
  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)('%s allows exactly the limit per tenant across many tenants', async (algorithm) => {
    const redis = ctx.connect();
    const provider = uniquePrefix('prov');
    const limiter = createRateLimiter({ redis, provider, limit: 5, windowSeconds: 60, algorithm });
    const tenants = Array.from({ length: size(40, 12) }, (_, i) => `tenant-${i}`);
    const results = await Promise.all(tenants.flatMap((tenant) => Array.from({ length: 8 }, () => limiter.consume(tenant).then((r) => [tenant, r.allowed] as const))));
    for (const tenant of tenants) {
      expect(results.filter(([t, allowed]) => t === tenant && allowed)).toHaveLength(5);
    }
    // One key per tenant and provider, spread over the masters by tenant.
    const spread = await keysPerMaster(redis, `ratelimit:*:${provider}`);
    expect([...spread.values()].reduce((a, b) => a + b, 0)).toBe(tenants.length);
    expect([...spread.values()].filter((count) => count > 0).length).toBeGreaterThan(1);
  });
});

describe('locks on a cluster', () => {
  it('acquires, fences and releases locks with and without a hash tag (fence counter in the lock slot)', async () => {
    const redis = ctx.connect();
    const prefix = uniquePrefix('lock');
    for (const key of [`${prefix}:activity:a1`, `${prefix}:{order-7}`]) {
      const fences: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const lock = await acquireLock(redis, key, { ttlMs: 5000 });
        expect(lock).not.toBeNull();
        expect(await acquireLock(redis, key, { ttlMs: 5000 })).toBeNull();
        fences.push(lock!.fence);
        expect(await lock!.extend(5000)).toBe(true);
        expect(await lock!.release()).toBe(true);
        expect(await lock!.release()).toBe(false);
      }
      expect(fences[1]).toBeGreaterThan(fences[0]!);
      expect(fences[2]).toBeGreaterThan(fences[1]!);
    }
  });

  it('withLock serialises concurrent holders of one key (waiters wake on release)', async () => {
    const redis = ctx.connect();
    const key = `${uniquePrefix('lock')}:shared`;
    let inside = 0;
    let maxInside = 0;
    const runs = size(20, 6);
    await Promise.all(
      Array.from({ length: runs }, () =>
        withLock(
          redis,
          key,
          async () => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            await new Promise((resolve) => setTimeout(resolve, 10));
            inside -= 1;
          },
          { ttlMs: 20_000, waitMs: 60_000 },
        ),
      ),
    );
    expect(maxInside).toBe(1);
  });
});

describe('notifyOnce on a cluster', () => {
  afterAll(() => closeNotificationQueues());

  it('concurrent calls with one dedupe key enqueue exactly one job, in the queue of its own slot', async () => {
    const redis = ctx.connect();
    const keyPrefix = uniquePrefix('nq');
    const tenants = Array.from({ length: size(10, 4) }, (_, i) => `tenant-${i}`);
    for (const tenantId of tenants) {
      const input = { tenantId, type: 'welcome', dedupeKey: 'u1', channel: 'email' as const, payload: { to: 'a@example.com', subject: 'hi', text: 'welcome' } };
      const results = await Promise.all(Array.from({ length: 20 }, () => notifyOnce(input, { connection: redis, keyPrefix })));
      expect(results.filter((result) => result.enqueued)).toHaveLength(1);
    }
    // The channel queue is fair (the catalog's default): with no worker, jobs past the release
    // window wait in the fair backlog, whose keys share the queue's slot.
    const waiting = await keysPerMaster(redis, `${keyPrefix}:bull:{notifications__email}:notifications__email:wait`);
    expect([...waiting.values()].reduce((a, b) => a + b, 0)).toBe(1);
    // Read until no hand-out is in progress (a job being handed out is briefly in neither count).
    const definition = resolveNotificationQueue('email', { connection: redis, keyPrefix });
    const queued = async (): Promise<number> => {
      const counts = await definition.counts();
      return counts.waiting + counts.pending;
    };
    await waitFor(async () => (await queued()) === tenants.length, 5000);
  });

  it('takes over a claim whose claimer died before its enqueue (past its pending time), under its job id; its status reads queued', async () => {
    // The dedupe key, the job and its status are in three slots: the claim script touches the key
    // only and the caller checks the job and status itself.
    const redis = ctx.connect();
    const keyPrefix = uniquePrefix('nq');
    const input = { tenantId: 'acme', type: 'welcome', dedupeKey: 'u2', channel: 'email' as const, payload: { to: 'a@example.com', subject: 'hi', text: 'welcome' } };
    const windowMs = 86_400_000;
    const key = notifyKey(keyPrefix, 'acme', 'welcome', 'u2');
    const jobId = notificationJobId('email', key, windowMs, Date.now());
    // A live claim (pending time not past) holds: a twin, nothing enqueued.
    await redis.set(key, `${Date.now() + 60_000}.${jobId.slice('notify-'.length)}`, 'PX', windowMs);
    expect(await notifyOnce(input, { connection: redis, keyPrefix })).toEqual({ enqueued: false });
    // The claimer died: its pending time is past and its job never reached the queue.
    await redis.set(key, `${Date.now() - 1}.${jobId.slice('notify-'.length)}`, 'PX', windowMs);
    expect(await notifyOnce(input, { connection: redis, keyPrefix })).toEqual({ enqueued: true, jobId });
    expect(await notifyOnce(input, { connection: redis, keyPrefix })).toEqual({ enqueued: false, jobId });
    expect((await getNotificationStatus(jobId, { connection: redis, keyPrefix }))?.state).toBe('queued');
    // A stale claim whose job is in the queue (its claimer was only slow) is not taken over: the
    // caller's own check of the job (another slot) answers a twin.
    await redis.set(key, `${Date.now() - 1}.${jobId.slice('notify-'.length)}`, 'PX', windowMs);
    expect(await notifyOnce(input, { connection: redis, keyPrefix })).toEqual({ enqueued: false, jobId });
    const definition = resolveNotificationQueue('email', { connection: redis, keyPrefix });
    await waitFor(async () => {
      const counts = await definition.counts();
      return counts.waiting + counts.pending === 1;
    }, 5000);
  });

  it('a stale claim whose job waits in the fair backlog (another slot than the key) is not taken over', async () => {
    const redis = ctx.connect();
    const keyPrefix = uniquePrefix('nq');
    const definition = resolveNotificationQueue('email', { connection: redis, keyPrefix });
    const payload = { to: 'a@example.com', subject: 'hi', text: 'welcome' };
    // One job released into BullMQ (no worker): the next one stays in the fair backlog.
    await notifyOnce({ tenantId: 'acme', type: 'welcome', dedupeKey: 'first', channel: 'email', payload }, { connection: redis, keyPrefix });
    const input = { tenantId: 'acme', type: 'welcome', dedupeKey: 'u3', channel: 'email' as const, payload };
    const first = await notifyOnce(input, { connection: redis, keyPrefix, pendingTtlMs: 1 });
    expect(await (await definition.getJob(first.jobId!))?.getState()).toBe('pending');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await notifyOnce(input, { connection: redis, keyPrefix })).toEqual({ enqueued: false, jobId: first.jobId });
    await waitFor(async () => {
      const counts = await definition.counts();
      return counts.waiting + counts.pending === 2;
    }, 5000);
  });
});

describe('sessions on a cluster', () => {
  it('creates, reads, updates and destroys sessions; destroyAllForUser reaches sessions on every master', async () => {
    const redis = ctx.connect();
    const store = createSessionStore({ redis, schema: z.object({ cart: z.array(z.string()) }), keyPrefix: uniquePrefix('sess'), timeoutMs: 30_000 });
    const created = await Promise.all(Array.from({ length: size(30, 12) }, () => store.create({ tenantId: 't1', userId: 'u1', cart: [] })));
    const first = created[0]!;
    const updated = await store.update(first.id, { cart: ['book'] });
    expect(updated.version).toBe(2);
    expect((await store.get(first.id))?.data.cart).toEqual(['book']);
    expect(await store.destroy(first.id)).toBe(true);
    expect(await store.get(first.id)).toBeNull();
    expect(await store.destroyAllForUser('t1', 'u1')).toBe(created.length - 1);
    for (const { id } of created) expect(await store.get(id)).toBeNull();
  });
});
