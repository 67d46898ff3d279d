import { connectTestRedis, deleteKeysByPrefix, uniquePrefix, waitFor, testRedisTarget } from '@platform/testing';
import type { Cluster, Redis } from 'ioredis';
import { acquireLock } from './index';
import { releaseChannelFor, waitersKeyFor } from './keys';
import { registerWaitersScript } from './scripts';
import { WAITERS_SLACK_MS } from './waiters';

// Releases publish only while some process is registered as waiting. These tests make polling
// useless (retryDelayMs of a minute, holders' TTLs of a minute), so a wake-up that was lost shows
// as waiters that get nothing within their bounded waitMs; they assert on outcomes, not on time.
// Several waiters share each test and every holder keeps the lock for a moment: waiters left
// asleep all try once more at their common deadline, and only one of them can win that try.
const POLL_NEVER = { retryDelayMs: 60_000 };
const HOLD_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes the lock (waiting up to `waitMs`), keeps it for `holdMs`, releases it; counts overlaps. */
function contender(overlap: { inside: number; max: number }, holdMs: number) {
  return async (c: Redis | Cluster, key: string, waitMs: number): Promise<boolean> => {
    const lock = await acquireLock(c, key, { ttlMs: HOLD_MS, waitMs, ...POLL_NEVER });
    if (!lock) return false;
    overlap.inside++;
    overlap.max = Math.max(overlap.max, overlap.inside);
    await sleep(holdMs);
    overlap.inside--;
    return lock.release();
  };
}

const url = testRedisTarget();
const redis = connectTestRedis(url);
const clients: Array<Redis | Cluster> = [];
const prefix = uniquePrefix('waiters');

function client(): Redis | Cluster {
  const c = connectTestRedis(url);
  clients.push(c);
  return c;
}

afterAll(async () => {
  await deleteKeysByPrefix(redis, prefix);
  await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  await redis.quit();
});

/** Subscribers of `channel`: on a cluster, summed over every node (a subscriber may sit on any of them). */
async function numsub(channel: string): Promise<number> {
  const nodes = redis.isCluster ? (await redis.ping(), (redis as Cluster).nodes('all')) : [redis as Redis];
  const counts = await Promise.all(nodes.map(async (node) => Number((await node.pubsub('NUMSUB', channel))[1])));
  return counts.reduce((a, b) => a + b, 0);
}

/** Collects the messages published on `channel` by anyone. */
async function listen(channel: string): Promise<{ settle(): Promise<string[]> }> {
  const subscriber = client();
  const messages: string[] = [];
  const markers: string[] = [];
  // A pattern subscription, so that our markers go to a channel of their own (waiters never see them)
  // and still arrive in order with the messages of `channel`.
  const markerChannel = `${channel}#marker`;
  subscriber.on('pmessage', (_pattern: string, from: string, message: string) => (from === markerChannel ? markers : messages).push(message));
  await subscriber.psubscribe(`${channel}*`);
  return {
    // Everything published on `channel` before this call has arrived once our marker has.
    async settle() {
      const marker = `marker-${markers.length}`;
      await redis.publish(markerChannel, marker);
      await waitFor(() => markers.includes(marker), 10_000, 5);
      return [...messages];
    },
  };
}

describe('release announcements', () => {
  it('an uncontended release publishes nothing; with a waiter registered it publishes, and stops again after', async () => {
    const key = `${prefix}:quiet`;
    const channel = releaseChannelFor(key);
    const heard = await listen(channel);

    for (let i = 0; i < 20; i++) {
      const lock = await acquireLock(redis, key, { ttlMs: 5000 });
      expect(await lock!.release()).toBe(true);
    }
    expect(await heard.settle()).toEqual([]);
    expect(await redis.exists(waitersKeyFor(key))).toBe(0);

    const holder = await acquireLock(redis, key, { ttlMs: HOLD_MS });
    const waiter = client();
    const waiting = acquireLock(waiter, key, { ttlMs: 5000, waitMs: 10_000, ...POLL_NEVER });
    await waitFor(() => redis.exists(waitersKeyFor(key)));
    expect(await holder!.release()).toBe(true);
    const next = await waiting;
    expect(next).not.toBeNull();
    expect(await heard.settle()).toEqual(['1']);

    expect(await next!.release()).toBe(true);
    // The last waiter left: its process unregistered, and releases are quiet again.
    await waitFor(async () => (await redis.exists(waitersKeyFor(key))) === 0);
    const again = await acquireLock(redis, key, { ttlMs: 5000 });
    await again!.release();
    expect(await heard.settle()).toEqual(['1']);
  });
});

describe('the waiters key', () => {
  it('holds one member per waiting client, always with a TTL, covering the latest deadline, and is removed when they leave', async () => {
    const key = `${prefix}:registry`;
    const waitersKey = waitersKeyFor(key);
    const holder = await acquireLock(redis, key, { ttlMs: HOLD_MS });
    const [a, b] = [client(), client()];
    const short = acquireLock(a, key, { ttlMs: 5000, waitMs: 2000, ...POLL_NEVER });
    const other = acquireLock(b, key, { ttlMs: 5000, waitMs: 2000, ...POLL_NEVER });
    await waitFor(async () => (await redis.zcard(waitersKey)) === 2);
    const pttl = await redis.pttl(waitersKey);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(2000 + WAITERS_SLACK_MS);

    // A second waiter of client a, waiting much longer, joins a's queue: a's registration is extended.
    const long = acquireLock(a, key, { ttlMs: 5000, waitMs: 120_000, ...POLL_NEVER });
    await waitFor(async () => (await redis.pttl(waitersKey)) > 100_000);
    expect(await redis.zcard(waitersKey)).toBe(2);

    // The short waits run out (null: nobody released); the long one still waits, and stays registered.
    expect(await short).toBeNull();
    expect(await other).toBeNull();
    await waitFor(async () => (await redis.zcard(waitersKey)) === 1);
    expect(await redis.pttl(waitersKey)).toBeGreaterThan(100_000);

    expect(await holder!.release()).toBe(true);
    const next = await long;
    expect(next).not.toBeNull();
    await next!.release();
    await waitFor(async () => (await redis.exists(waitersKey)) === 0);
  });

  it('the registration script drops members whose time ran out and never leaves the key without a TTL', async () => {
    const waitersKey = waitersKeyFor(`${prefix}:script`);
    await redis.zadd(waitersKey, 1, 'dead-process');
    await redis.persist(waitersKey);
    expect(await registerWaitersScript.run(redis, [waitersKey], ['live-process', 30_000])).toBe(1);
    expect(await redis.zrange(waitersKey, '0', '-1')).toEqual(['live-process']);
    const pttl = await redis.pttl(waitersKey);
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    // A shorter registration never shortens the key's life.
    await registerWaitersScript.run(redis, [waitersKey], ['another', 1000]);
    expect(await redis.pttl(waitersKey)).toBeGreaterThan(25_000);
    await redis.del(waitersKey);
  });
});

describe('no lost wake-ups', () => {
  it('many parallel waiters on several clients all get the lock, one at a time, without polling', async () => {
    const key = `${prefix}:many`;
    const holder = await acquireLock(redis, key, { ttlMs: HOLD_MS });
    const waiterClients = [client(), client(), client(), client()];
    const perClient = 6;
    const overlap = { inside: 0, max: 0 };
    const run = contender(overlap, 20);
    const all = Promise.all(waiterClients.flatMap((c) => Array.from({ length: perClient }, () => run(c, key, 20_000))));
    await waitFor(async () => (await redis.zcard(waitersKeyFor(key))) === waiterClients.length);
    expect(await holder!.release()).toBe(true);
    const outcomes = await all;
    expect(outcomes.filter(Boolean)).toHaveLength(waiterClients.length * perClient);
    expect(overlap.max).toBe(1);
  });

  it('releases racing the waiters while they subscribe and register are not lost (fresh clients, 15 rounds)', async () => {
    const overlap = { inside: 0, max: 0 };
    const run = contender(overlap, 30);
    for (let round = 0; round < 15; round++) {
      const key = `${prefix}:race:${round}`;
      const holder = await acquireLock(redis, key, { ttlMs: HOLD_MS });
      const fresh = [client(), client(), client()];
      const started = fresh.flatMap((c) => [0, 1].map(() => run(c, key, 10_000)));
      // Somewhere between before their first attempt and after they are ready.
      await sleep(round % 5);
      expect(await holder!.release()).toBe(true);
      const outcomes = await Promise.all(started);
      expect({ round, acquired: outcomes.filter(Boolean).length }).toEqual({ round, acquired: 6 });
      await Promise.all(fresh.map((c) => c.quit()));
    }
    expect(overlap.max).toBe(1);
  }, 120_000);

  it("a release between waiters' failed attempts and their registration landing still reaches them", async () => {
    const key = `${prefix}:slow-registration`;
    const holder = await acquireLock(redis, key, { ttlMs: HOLD_MS });
    // A client whose registration requests are held back until we let them through.
    const real = client();
    let letThrough: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (letThrough = resolve));
    let held = 0;
    const gated = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'evalsha') {
          return (sha: string, numberOfKeys: number, ...rest: (string | number)[]) => {
            if (sha !== registerWaitersScript.sha) return target.evalsha(sha, numberOfKeys, ...rest);
            held++;
            return gate.then(() => target.evalsha(sha, numberOfKeys, ...rest));
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const channel = releaseChannelFor(key);
    const heard = await listen(channel);

    const overlap = { inside: 0, max: 0 };
    const run = contender(overlap, 100);
    let settled = 0;
    const waiting = Promise.all([0, 1, 2, 3].map(() => run(gated, key, 15_000).finally(() => settled++)));
    await waitFor(() => held === 1);
    // Let the subscription complete: the retry it triggers by itself (in case a release was missed)
    // happens now, before the release, and fails.
    await waitFor(async () => (await numsub(channel)) === 1);
    await sleep(100);
    // Subscribed but not registered: this release is not announced, so only the retry on becoming
    // ready (registration confirmed) can get the waiters the lock.
    expect(await holder!.release()).toBe(true);
    expect(await heard.settle()).toEqual([]);
    expect(settled).toBe(0);
    letThrough();
    expect(await waiting).toEqual([true, true, true, true]);
    expect(overlap.max).toBe(1);
  });
});
