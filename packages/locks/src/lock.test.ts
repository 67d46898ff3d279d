import { InvalidArgumentError, PlatformError, redisKey } from '@platform/redis';
import { deleteKeysByPrefix, startRedisServer, uniquePrefix, waitFor, connectTestRedis } from '@platform/testing';
import { Redis, type Cluster } from 'ioredis';
import { acquireLock, activityLock, LockLostError, LockNotAcquiredError, withLock } from './index';
import { activityLockKey, fenceKeyFor, hashTagOf, waitersKeyFor } from './keys';
import { acquireLockScript, handOverLockScript } from './scripts';

const redis = connectTestRedis();
const other = connectTestRedis();
const prefixes: string[] = [];

function prefix(): string {
  const p = uniquePrefix('lock');
  prefixes.push(p);
  return p;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Holds `key` on `redis`, starts a waiter on `waiter` (its fallback poll a minute away), releases
 * after `afterMs`: the waiter's lock, which must carry the next fence.
 */
async function releaseToWaiter(key: string, waiter: Redis | Cluster, ttlMs: number, afterMs: number) {
  const holder = await acquireLock(redis, key, { ttlMs: 60_000 });
  const waiting = acquireLock(waiter, key, { ttlMs, waitMs: 10_000, retryDelayMs: 60_000 });
  await sleep(afterMs);
  expect(await holder!.release()).toBe(true);
  const next = await waiting;
  expect(next).not.toBeNull();
  expect(next!.fence).toBe(holder!.fence + 1);
  return { holder: holder!, next: next! };
}

afterAll(async () => {
  for (const p of prefixes) await deleteKeysByPrefix(redis, p);
  await redis.quit();
  await other.quit();
});

describe('acquireLock', () => {
  it('stores the owner token under the key as given, with the TTL, and releases it', async () => {
    const key = `${prefix()}:job`;
    const lock = await acquireLock(redis, key, { ttlMs: 5000 });
    expect(lock).not.toBeNull();
    expect(lock!.key).toBe(key);
    expect(await redis.get(key)).toBe(lock!.token);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5000);
    expect(await acquireLock(other, key, { ttlMs: 5000 })).toBeNull();
    expect(await lock!.release()).toBe(true);
    expect(await redis.exists(key)).toBe(0);
    expect(await lock!.release()).toBe(false);
    // The fence counter has a TTL too.
    expect(await redis.pttl(fenceKeyFor(key))).toBeGreaterThan(0);
  });

  it("a non-owner's release and extend return false and leave the key untouched", async () => {
    const key = `${prefix()}:owned`;
    const stale = await acquireLock(redis, key, { ttlMs: 50 });
    expect(stale).not.toBeNull();
    await sleep(80);
    const owner = await acquireLock(other, key, { ttlMs: 3000 });
    expect(owner).not.toBeNull();
    const before = await redis.pttl(key);

    expect(await stale!.release()).toBe(false);
    expect(await stale!.extend(60_000)).toBe(false);

    expect(await redis.get(key)).toBe(owner!.token);
    const after = await redis.pttl(key);
    expect(after).toBeLessThanOrEqual(before);
    expect(after).toBeGreaterThan(0);
    expect(await owner!.extend(10_000)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(3000);
    expect(await owner!.release()).toBe(true);
  });

  it('extend and release never throw for a lock whose key was deleted', async () => {
    const key = `${prefix()}:deleted`;
    const lock = await acquireLock(redis, key, { ttlMs: 5000 });
    await redis.del(key);
    await expect(lock!.extend()).resolves.toBe(false);
    await expect(lock!.release()).resolves.toBe(false);
    expect(await redis.exists(key)).toBe(0);
  });

  it('fencing tokens strictly increase across acquisitions and holders, even after the counter is lost', async () => {
    const key = `${prefix()}:fenced`;
    const fences: number[] = [];
    for (let i = 0; i < 20; i++) {
      const client = i % 2 === 0 ? redis : other;
      const lock = await acquireLock(client, key, { ttlMs: 5000 });
      fences.push(lock!.fence);
      if (i === 9) {
        // The counter expired or was evicted: the next one starts above every earlier token.
        await redis.del(fenceKeyFor(key));
      }
      await lock!.release();
    }
    for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
    expect(fences.every((f) => Number.isSafeInteger(f) && f > 0)).toBe(true);
    // Consecutive while the counter lives.
    expect(fences[9]! - fences[0]!).toBe(9);
  });

  it('a waiter wakes on release (Pub/Sub), long before its fallback poll or the TTL', async () => {
    const { next } = await releaseToWaiter(`${prefix()}:wake`, other, 5000, 200);
    await next.release();
  });

  it('a release hands the lock straight to a waiter on the same client, with the next fence', async () => {
    const key = `${prefix()}:handover`;
    const { next } = await releaseToWaiter(key, redis, 4000, 100);
    expect(await redis.get(key)).toBe(next.token);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(4000);
    expect(await next.release()).toBe(true);
    expect(await redis.exists(key)).toBe(0);
  });

  it('a lost lock hands nothing over: the waiter still gets the lock by itself', async () => {
    const key = `${prefix()}:lost-handover`;
    const holder = await acquireLock(redis, key, { ttlMs: 60_000 });
    const waiting = acquireLock(redis, key, { ttlMs: 4000, waitMs: 10_000, retryDelayMs: 200 });
    await sleep(100);
    await other.del(key);
    expect(await holder!.release()).toBe(false);
    const next = await waiting;
    expect(next).not.toBeNull();
    expect(await redis.get(key)).toBe(next!.token);
    await next!.release();
  });

  it('a waiter gives up after waitMs and returns null', async () => {
    const key = `${prefix()}:busy`;
    const holder = await acquireLock(redis, key, { ttlMs: 60_000 });
    expect(await acquireLock(other, key, { ttlMs: 1000, waitMs: 150, retryDelayMs: 20 })).toBeNull();
    expect(await redis.get(key)).toBe(holder!.token);
    await holder!.release();
  });

  it('a waiter takes the lock when the holder lets it expire', async () => {
    const key = `${prefix()}:expire`;
    const holder = await acquireLock(redis, key, { ttlMs: 300 });
    const next = await acquireLock(other, key, { ttlMs: 1000, waitMs: 5000, retryDelayMs: 60_000 });
    expect(next).not.toBeNull();
    expect(await holder!.release()).toBe(false);
    await next!.release();
  });

  it('rejects bad input with InvalidArgumentError before touching Redis', async () => {
    const key = `${prefix()}:bad`;
    await expect(acquireLock(redis, key, { ttlMs: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireLock(redis, key, { ttlMs: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireLock(redis, key, { ttlMs: 1000, waitMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireLock(redis, '', { ttlMs: 1000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireLock(redis, key, { ttlMs: { toString: 0 } as unknown as number, waitMs: null as unknown as number })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(acquireLock(redis, `${key}{}x`, { ttlMs: 1000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // A key that cannot be turned into a string (found by the bad-input fuzz): still the typed error.
    for (const waitMs of [0, 10]) {
      await expect(acquireLock(redis, { toString: false } as unknown as string, { ttlMs: 1000, waitMs })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await redis.exists(key)).toBe(0);
  });
});

describe('the fence counter TTL', () => {
  const fenceTtlMs = 60_000;

  it('is set when the counter is created, left alone above half, refreshed below half', async () => {
    const key = `${prefix()}:fence-ttl`;
    const fenceKey = fenceKeyFor(key);
    const cycle = async (ttlMs = 1000) => (await acquireLock(redis, key, { ttlMs, fenceTtlMs }))!.release();
    await cycle();
    expect(await redis.pttl(fenceKey)).toBeGreaterThan(fenceTtlMs / 2);
    expect(await redis.pttl(fenceKey)).toBeLessThanOrEqual(fenceTtlMs);

    // Above half: no write to the counter's TTL (the time left only shrinks).
    await redis.pexpire(fenceKey, 0.75 * fenceTtlMs);
    await cycle();
    expect(await redis.pttl(fenceKey)).toBeLessThanOrEqual(0.75 * fenceTtlMs);

    // Below half: back to the full TTL.
    await redis.pexpire(fenceKey, 0.4 * fenceTtlMs);
    await cycle();
    expect(await redis.pttl(fenceKey)).toBeGreaterThan(0.75 * fenceTtlMs);

    // Above half but shorter than the lock being granted: refreshed, so the counter outlives the lock.
    await redis.pexpire(fenceKey, 0.6 * fenceTtlMs);
    const lock = await acquireLock(redis, key, { ttlMs: 0.7 * fenceTtlMs, fenceTtlMs });
    expect(await redis.pttl(fenceKey)).toBeGreaterThanOrEqual(await redis.pttl(key));
    await lock!.release();

    // A counter that lost its TTL gets one back.
    await redis.persist(fenceKey);
    await cycle();
    expect(await redis.pttl(fenceKey)).toBeGreaterThan(0);
  });

  it('follows the same rule when a lock is handed over (one shared Lua block)', async () => {
    const key = `${prefix()}:handover-ttl`;
    const fenceKey = fenceKeyFor(key);
    const first = await acquireLock(redis, key, { ttlMs: 5000, fenceTtlMs });
    await redis.pexpire(fenceKey, 0.75 * fenceTtlMs);
    const handedFence = await handOverLockScript.run(redis, [key, fenceKey], [first!.token, 'next-owner', 5000, fenceTtlMs]);
    expect(handedFence).toBe(first!.fence + 1);
    expect(await redis.get(key)).toBe('next-owner');
    expect(await redis.pttl(fenceKey)).toBeLessThanOrEqual(0.75 * fenceTtlMs);

    await redis.pexpire(fenceKey, 0.4 * fenceTtlMs);
    expect(await handOverLockScript.run(redis, [key, fenceKey], ['next-owner', 'third-owner', 0.5 * fenceTtlMs, fenceTtlMs])).toBe(first!.fence + 2);
    expect(await redis.pttl(fenceKey)).toBeGreaterThan(0.75 * fenceTtlMs);

    // Not the owner: nothing changes.
    expect(await handOverLockScript.run(redis, [key, fenceKey], ['next-owner', 'thief', 5000, fenceTtlMs])).toBe(0);
    expect(await redis.get(key)).toBe('third-owner');
    await redis.del(key);
  });

  it('refuses a fenceTtlMs shorter than ttlMs before touching Redis', async () => {
    const key = `${prefix()}:fence-short`;
    await expect(acquireLock(redis, key, { ttlMs: 5000, fenceTtlMs: 4999 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await redis.exists(key, fenceKeyFor(key))).toBe(0);
  });
});

describe('fencing: false', () => {
  it('takes the lock without touching the fence counter; fence is 0', async () => {
    const key = `${prefix()}:unfenced`;
    const lock = await acquireLock(redis, key, { ttlMs: 5000, fencing: false });
    expect(lock!.fence).toBe(0);
    expect(await redis.get(key)).toBe(lock!.token);
    expect(await redis.exists(fenceKeyFor(key))).toBe(0);
    expect(await acquireLock(other, key, { ttlMs: 5000, fencing: false })).toBeNull();
    expect(await lock!.release()).toBe(true);
    expect(await redis.exists(key)).toBe(0);
  });

  it('leaves fenced acquisitions of the same key strictly increasing', async () => {
    const key = `${prefix()}:mixed`;
    const first = await acquireLock(redis, key, { ttlMs: 5000 });
    await first!.release();
    const unfenced = await acquireLock(redis, key, { ttlMs: 5000, fencing: false });
    expect(unfenced!.fence).toBe(0);
    await unfenced!.release();
    const second = await acquireLock(redis, key, { ttlMs: 5000 });
    expect(second!.fence).toBeGreaterThan(first!.fence);
    await second!.release();
  });

  it('a hand-over follows the waiter: an unfenced waiter gets 0, a fenced one the next fence', async () => {
    const key = `${prefix()}:unfenced-handover`;
    const holder = await acquireLock(redis, key, { ttlMs: 60_000 });
    const unfenced = acquireLock(redis, key, { ttlMs: 4000, waitMs: 10_000, retryDelayMs: 60_000, fencing: false });
    await sleep(100);
    expect(await holder!.release()).toBe(true);
    const next = await unfenced;
    expect(next!.fence).toBe(0);
    expect(await redis.get(key)).toBe(next!.token);
    const fenced = acquireLock(redis, key, { ttlMs: 4000, waitMs: 10_000, retryDelayMs: 60_000 });
    await sleep(100);
    expect(await next!.release()).toBe(true);
    const last = await fenced;
    expect(last!.fence).toBe(holder!.fence + 1);
    await last!.release();
  });

  it('refuses a fencing option that is not a boolean before touching Redis', async () => {
    const key = `${prefix()}:fencing-bad`;
    await expect(acquireLock(redis, key, { ttlMs: 5000, fencing: 'no' as unknown as boolean })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await redis.exists(key)).toBe(0);
  });
});

describe('fence keys and Redis Cluster', () => {
  it('derive the fence key in the lock key hash slot', () => {
    expect(fenceKeyFor('lock:activity:a1')).toBe('lock:activity:a1:fence{lock:activity:a1}');
    expect(hashTagOf(fenceKeyFor('lock:activity:a1'))).toBe('lock:activity:a1');
    expect(fenceKeyFor('lock:{order-7}')).toBe('lock:{order-7}:fence');
    expect(waitersKeyFor('lock:activity:a1')).toBe('lock:activity:a1:waiters{lock:activity:a1}');
    expect(waitersKeyFor('lock:{order-7}')).toBe('lock:{order-7}:waiters');
    expect(() => waitersKeyFor('a{}b')).toThrow(InvalidArgumentError);
    expect(hashTagOf('a{}b')).toBeUndefined();
    expect(() => fenceKeyFor('a}b')).toThrow(InvalidArgumentError);
    expect(activityLockKey('job:1 x')).toBe(redisKey('lock', 'activity', 'job:1 x'));
  });

  it('the lock scripts run on a cluster-enabled server, where keys in two slots are refused', async () => {
    const server = await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] });
    const node = new Redis(server.url);
    try {
      await node.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      await waitFor(async () => String(await node.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), 10_000, 50);
      for (const key of ['lock:activity:a1', 'lock:{tenant-1}:report', activityLockKey('x:y')]) {
        const lock = await acquireLock(node, key, { ttlMs: 5000 });
        expect(lock).not.toBeNull();
        expect(await lock!.extend()).toBe(true);
        expect(await lock!.release()).toBe(true);
      }
      // Waiting: registration in the waiters key, an announced release, and a hand-over.
      const second = new Redis(server.url);
      try {
        const key = 'lock:activity:wait';
        const holder = await acquireLock(node, key, { ttlMs: 60_000 });
        const elsewhere = acquireLock(second, key, { ttlMs: 5000, waitMs: 10_000, retryDelayMs: 60_000 });
        await waitFor(() => node.exists(waitersKeyFor(key)), 10_000);
        expect(await holder!.release()).toBe(true);
        const next = await elsewhere;
        expect(next).not.toBeNull();
        const local = acquireLock(second, key, { ttlMs: 5000, waitMs: 10_000, retryDelayMs: 60_000 });
        await waitFor(() => node.exists(waitersKeyFor(key)), 10_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await next!.release()).toBe(true);
        const handed = await local;
        expect(handed!.fence).toBe(next!.fence + 1);
        expect(await handed!.release()).toBe(true);
      } finally {
        second.disconnect();
      }
      // The control: a naive `${key}:fence` would be refused by a cluster.
      await expect(
        acquireLockScript.run(node, ['lock:activity:a1', 'lock:activity:a1:fence'], ['t', 1000, 10_000]),
      ).rejects.toThrow(/CROSSSLOT/);
    } finally {
      node.disconnect();
      await server.stop();
    }
  });
});

describe('withLock', () => {
  it('returns what fn returns, holds the lock while fn runs and releases it after', async () => {
    const key = `${prefix()}:with`;
    const result = await withLock(
      redis,
      key,
      async (signal) => {
        expect(signal.aborted).toBe(false);
        expect(await redis.exists(key)).toBe(1);
        return 42;
      },
      { ttlMs: 5000 },
    );
    expect(result).toBe(42);
    expect(await redis.exists(key)).toBe(0);
  });

  it('releases the lock when fn throws, and rethrows the error', async () => {
    const key = `${prefix()}:throws`;
    const boom = new Error('boom');
    await expect(withLock(redis, key, () => Promise.reject(boom), { ttlMs: 5000 })).rejects.toBe(boom);
    expect(await redis.exists(key)).toBe(0);
  });

  it('throws LockNotAcquiredError with retryAfterMs when the lock stays busy', async () => {
    const key = `${prefix()}:nope`;
    const holder = await acquireLock(redis, key, { ttlMs: 10_000 });
    let ran = false;
    const error = await withLock(other, key, () => { ran = true; }, { ttlMs: 1000, waitMs: 50, retryDelayMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockNotAcquiredError);
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as LockNotAcquiredError).code).toBe('LOCK_NOT_ACQUIRED');
    expect((error as LockNotAcquiredError).delayJob).toBe(false);
    // The holder's remaining TTL, capped by maxRetryAfterMs (1 s) plus at most 250 ms of jitter.
    expect((error as LockNotAcquiredError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect((error as LockNotAcquiredError).retryAfterMs).toBeLessThanOrEqual(1250);
    const uncapped = await withLock(other, key, () => undefined, { ttlMs: 1000, maxRetryAfterMs: 60_000 }).catch((e: unknown) => e);
    expect((uncapped as LockNotAcquiredError).retryAfterMs).toBeGreaterThan(5000);
    expect(ran).toBe(false);
    await holder!.release();
  });

  it('autoExtend keeps the lock through work lasting five TTLs', async () => {
    const key = `${prefix()}:long`;
    const ttlMs = 600;
    let token: string | null = null;
    let checks = 0;
    const result = await withLock(
      redis,
      key,
      async (signal) => {
        token = await redis.get(key);
        const end = Date.now() + 5 * ttlMs;
        while (Date.now() < end) {
          await sleep(100);
          expect(await redis.get(key)).toBe(token);
          checks++;
        }
        return signal.aborted ? 'lost' : 'done';
      },
      { ttlMs },
    );
    expect(result).toBe('done');
    expect(token).not.toBeNull();
    expect(checks).toBeGreaterThan(10);
    expect(await redis.exists(key)).toBe(0);
  });

  it('deleting the key under a holder fires the signal and rejects with LockLostError', async () => {
    const key = `${prefix()}:stolen`;
    let reason: unknown;
    const running = withLock(
      redis,
      key,
      (signal) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => resolve('finished without noticing'), 10_000);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reason = signal.reason;
            reject(signal.reason as Error);
          });
        }),
      { ttlMs: 600 },
    );
    await sleep(100);
    await other.del(key);
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).code).toBe('LOCK_LOST');
    expect((error as LockLostError).reason).toBe('not-owner');
    expect(reason).toBe(error);
    expect(await redis.exists(key)).toBe(0);
  });

  it('a lock taken over by someone else is left to its new owner', async () => {
    const key = `${prefix()}:takeover`;
    let thief: Awaited<ReturnType<typeof acquireLock>> = null;
    const error = await withLock(
      redis,
      key,
      async (signal) => {
        await other.del(key);
        thief = await acquireLock(other, key, { ttlMs: 10_000 });
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
      { ttlMs: 300 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect(await redis.get(key)).toBe(thief!.token);
    expect(await thief!.release()).toBe(true);
  });

  it('without autoExtend the signal fires when the TTL runs out', async () => {
    const key = `${prefix()}:noextend`;
    const error = await withLock(
      redis,
      key,
      (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve)),
      { ttlMs: 200, autoExtend: false },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).reason).toBe('expired');
  });

  it('an extension that keeps failing (Redis unreachable) aborts the signal before the TTL runs out', async () => {
    const key = `${prefix()}:unreachable`;
    const lock = await acquireLock(redis, key, { ttlMs: 400 });
    // A client whose every call fails, as if Redis were down, around the real lock.
    let extendCalls = 0;
    const broken = {
      key: lock!.key,
      ttlMs: lock!.ttlMs,
      acquiredAt: lock!.acquiredAt,
      extend: () => {
        extendCalls++;
        return Promise.reject(new Error('Connection is closed.'));
      },
      release: () => lock!.release(),
    };
    const { runHeld } = await import('./hold');
    const error = await runHeld(
      broken,
      (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve)),
      { autoExtend: true, extendIntervalMs: undefined },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).reason).toBe('expired');
    expect((error as LockLostError).cause).toBeInstanceOf(Error);
    // It kept retrying (faster than every ttl/3) until the TTL ran out.
    expect(extendCalls).toBeGreaterThanOrEqual(2);
    expect(await redis.exists(key)).toBe(0);
  });
});

describe('activityLock', () => {
  it('locks lock:activity:<id> and keeps a second caller out', async () => {
    const activityId = `${prefix()}:act`;
    const key = activityLockKey(activityId);
    prefixes.push('lock:activity:' + activityId.split(':')[0]);
    const seen = await activityLock(redis, activityId, async () => {
      const second = await activityLock(other, activityId, () => 'ran', { ttlMs: 1000 }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(LockNotAcquiredError);
      return redis.exists(key);
    });
    expect(seen).toBe(1);
    expect(await redis.exists(key)).toBe(0);
  });
});
