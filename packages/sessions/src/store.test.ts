import { InvalidArgumentError, PlatformError } from '@platform/redis';
import { uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { SessionConflictError, SessionNotFoundError, SessionTooLargeError, SessionValidationError } from './errors';
import { sessionKey, userIndexKey } from './keys';
import { createSessionStore } from './store';
import { cartSchema, keysUnder, testRedis } from './test-helpers';

const { redis, prefix, cleanup } = testRedis('sessions');
const store = createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix });
const tenant = 'acme';

afterAll(cleanup);

describe('create and get', () => {
  it('creates a session under a 192-bit URL-safe id with a TTL between 7199 and 7200 s', async () => {
    const before = Date.now();
    const created = await store.create({ tenantId: tenant, userId: 'u1', cart: ['a'] });
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(created.id, 'base64url')).toHaveLength(24);
    expect(created.version).toBe(1);
    const ttl = await redis.ttl(sessionKey(prefix, created.id));
    expect(ttl).toBeGreaterThanOrEqual(7199);
    expect(ttl).toBeLessThanOrEqual(7200);
    // Redis time and this process's clock are the same machine's clock.
    expect(created.expiresAt).toBeGreaterThanOrEqual(before + 7_199_000);
    expect(created.expiresAt).toBeLessThanOrEqual(Date.now() + 7_200_000);
  });

  it('ids do not repeat', () => {
    return Promise.all(Array.from({ length: 200 }, (_, i) => store.create({ tenantId: tenant, userId: `many-${i % 3}` }))).then((created) => {
      expect(new Set(created.map((c) => c.id)).size).toBe(200);
    });
  });

  it('keys are exactly session:{id} without a prefix, and honour REDIS_KEY_PREFIX', async () => {
    const plain = createSessionStore({ redis, schema: cartSchema, keyPrefix: '' });
    const userId = uniquePrefix('plain-user');
    const { id } = await plain.create({ tenantId: tenant, userId });
    try {
      expect(await redis.exists(`session:${id}`)).toBe(1);
      expect(await redis.exists(`session_user:${tenant}:${userId}`)).toBe(1);
    } finally {
      // One key per DEL: on a cluster the two keys are in different slots.
      for (const key of [`session:${id}`, `session_user:${tenant}:${userId}`]) await redis.del(key);
    }
    const saved = process.env.REDIS_KEY_PREFIX;
    process.env.REDIS_KEY_PREFIX = prefix;
    try {
      const fromEnv = createSessionStore({ redis, schema: cartSchema });
      const created = await fromEnv.create({ tenantId: tenant, userId: 'env' });
      expect(await redis.exists(`${prefix}:session:${created.id}`)).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.REDIS_KEY_PREFIX;
      else process.env.REDIS_KEY_PREFIX = saved;
    }
  });

  it('get returns the validated data (schema defaults applied), version and expiry; null when missing', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u2' });
    const session = await store.get(id);
    expect(session).toEqual({ id, data: { tenantId: tenant, userId: 'u2', cart: [], counter: 0 }, version: 1, expiresAt: expect.any(Number) });
    expect(await store.get('A'.repeat(32))).toBeNull();
  });

  it('a sliding get sets the TTL back to 7200 s', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u3' });
    await redis.pexpire(sessionKey(prefix, id), 5000);
    expect(await redis.ttl(sessionKey(prefix, id))).toBeLessThanOrEqual(5);
    await store.get(id);
    const ttl = await redis.ttl(sessionKey(prefix, id));
    expect(ttl).toBeGreaterThanOrEqual(7199);
    expect(ttl).toBeLessThanOrEqual(7200);
  });

  it('without sliding, get leaves the TTL alone and touch sets it again', async () => {
    const fixed = createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix, sliding: false });
    const { id } = await fixed.create({ tenantId: tenant, userId: 'u4' });
    await redis.pexpire(sessionKey(prefix, id), 5000);
    expect((await fixed.get(id))?.data.userId).toBe('u4');
    expect(await redis.pttl(sessionKey(prefix, id))).toBeLessThanOrEqual(5000);
    const expiresAt = await fixed.touch(id);
    expect(expiresAt).toBeGreaterThan(Date.now() + 7_198_000);
    expect(await redis.ttl(sessionKey(prefix, id))).toBeGreaterThanOrEqual(7199);
    expect(await fixed.touch('B'.repeat(32))).toBeNull();
  });

  it('refuses stored data that no longer matches the schema', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u5' });
    await redis.hset(sessionKey(prefix, id), 'd', JSON.stringify({ tenantId: tenant, userId: 'u5', cart: 'not-an-array' }));
    await expect(store.get(id)).rejects.toBeInstanceOf(SessionValidationError);
  });
});

describe('update', () => {
  it('merges a patch or the result of a function, and bumps the version', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u6', cart: ['a'] });
    const first = await store.update(id, { note: 'hi' });
    expect(first.version).toBe(2);
    expect(first.data).toEqual({ tenantId: tenant, userId: 'u6', cart: ['a'], counter: 0, note: 'hi' });
    const second = await store.update(id, (current) => ({ cart: [...current.cart, 'b'] }), { ifVersion: 2 });
    expect(second.version).toBe(3);
    expect((await store.get(id))?.data).toEqual({ tenantId: tenant, userId: 'u6', cart: ['a', 'b'], counter: 0, note: 'hi' });
  });

  it('a stale ifVersion throws SessionConflictError and writes nothing', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u7' });
    await store.update(id, { note: 'first' });
    const error = await store.update(id, { note: 'second' }, { ifVersion: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionConflictError);
    expect(error).toMatchObject({ code: 'SESSION_CONFLICT', expectedVersion: 1, actualVersion: 2 });
    const session = await store.get(id);
    expect(session?.version).toBe(2);
    expect(session?.data.note).toBe('first');
  });

  it('100 parallel updates with the same ifVersion: exactly one wins', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u8' });
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => store.update(id, { counter: i + 1 }, { ifVersion: 1 })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(99);
    for (const r of lost) expect(r.reason).toBeInstanceOf(SessionConflictError);
    const session = await store.get(id);
    expect(session?.version).toBe(2);
    expect(session?.data.counter).toBe((won[0] as PromiseFulfilledResult<{ data: { counter: number } }>).value.data.counter);
  });

  it('without ifVersion, concurrent function updates retry and none is lost', async () => {
    const patient = createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix, maxUpdateAttempts: 100 });
    const { id } = await patient.create({ tenantId: tenant, userId: 'u9' });
    await Promise.all(Array.from({ length: 20 }, () => patient.update(id, (current) => ({ counter: current.counter + 1 }))));
    const session = await patient.get(id);
    expect(session?.data.counter).toBe(20);
    expect(session?.version).toBe(21);
  });

  it('an update function that returns a promise (an async updater) is refused with InvalidArgumentError; nothing is written', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u11', cart: ['a'] });
    const asyncPatch = (async () => ({ note: 'async' })) as unknown as () => { note: string };
    await expect(store.update(id, asyncPatch)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.update(id, Promise.resolve({ note: 'async' }) as unknown as { note: string })).rejects.toBeInstanceOf(InvalidArgumentError);
    const session = await store.get(id);
    expect(session?.version).toBe(1);
    expect(session?.data.note).toBeUndefined();
  });

  it('a sliding update sets the TTL again; tenantId and userId cannot change; a missing session is SessionNotFoundError', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u10' });
    await redis.pexpire(sessionKey(prefix, id), 5000);
    await store.update(id, { note: 'x' });
    expect(await redis.ttl(sessionKey(prefix, id))).toBeGreaterThanOrEqual(7199);
    await expect(store.update(id, { userId: 'someone-else' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.update(id, { tenantId: 'other' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.update('C'.repeat(32), { note: 'x' })).rejects.toBeInstanceOf(SessionNotFoundError);
    expect((await store.get(id))?.version).toBe(2);
  });
});

describe('limits and bad input', () => {
  it('a value over 64 KiB is refused with SessionTooLargeError and nothing is written', async () => {
    const own = uniquePrefix('large');
    const large = createSessionStore({ redis, schema: cartSchema, keyPrefix: own });
    const error = await large.create({ tenantId: tenant, userId: 'big', note: 'x'.repeat(65_536) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect(error).toMatchObject({ code: 'SESSION_TOO_LARGE', maxBytes: 65_536 });
    expect(await keysUnder(redis, own)).toEqual([]);
    // Just under the limit is fine; an update that would cross it writes nothing.
    const { id } = await large.create({ tenantId: tenant, userId: 'big', note: 'x'.repeat(60_000) });
    await expect(large.update(id, { cart: ['y'.repeat(6000)] })).rejects.toBeInstanceOf(SessionTooLargeError);
    expect((await large.get(id))?.version).toBe(1);
    for (const key of [sessionKey(own, id), userIndexKey(own, tenant, 'big')]) await redis.del(key);
  });

  it('bad ids, owners, data and options throw typed errors before Redis is touched', async () => {
    const calls: string[] = [];
    const spy = new Proxy(redis, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const watched = createSessionStore({ redis: spy, schema: cartSchema, keyPrefix: prefix });
    const attempts: Array<() => Promise<unknown>> = [
      () => watched.get('short'),
      () => watched.get('has:colon-and-is-long-enough-1234'),
      () => watched.get(42 as unknown as string),
      () => watched.touch('../../etc/passwd-and-so-on-and-on'),
      () => watched.destroy(''),
      () => watched.update('D'.repeat(32), null as unknown as object),
      () => watched.update('D'.repeat(32), { note: 'x' }, { ifVersion: 0 }),
      () => watched.create({ tenantId: 'bad:tenant', userId: 'u' }),
      () => watched.create({ tenantId: tenant, userId: '' }),
      () => watched.create({ tenantId: tenant } as unknown as { tenantId: string; userId: string }),
      () => watched.create({ tenantId: tenant, userId: 'u', cart: 'no' as unknown as string[] }),
      () => watched.set('E'.repeat(32), { tenantId: tenant, userId: 'u\n' }),
      () => watched.destroyAllForUser('bad tenant', 'u'),
      () => watched.destroyAllForUser(tenant, ''),
    ];
    for (const attempt of attempts) {
      const error = await attempt().then(
        () => new Error('resolved'),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PlatformError);
      expect(['INVALID_ARGUMENT', 'SESSION_INVALID']).toContain((error as PlatformError).code);
    }
    expect(calls).toEqual([]);
    expect(() => createSessionStore({ redis, schema: { parse: () => ({}) } as unknown as typeof cartSchema })).toThrow(InvalidArgumentError);
    expect(() => createSessionStore({ redis, schema: cartSchema, ttlSeconds: 0 })).toThrow(InvalidArgumentError);
    expect(() => createSessionStore({ redis, schema: cartSchema, keyPrefix: 'a:b' })).toThrow(PlatformError);
    expect(() => createSessionStore({ redis: {} as typeof redis, schema: cartSchema })).toThrow(InvalidArgumentError);
  });

  it('error messages never contain the session id', async () => {
    const secret = 'S3cr3tS3ssion1d-abcdefghijklmnopq';
    const errors = await Promise.all([
      store.update(secret, { note: 'x' }).then(() => new Error('resolved'), (e: unknown) => e as Error),
      store.get(`${secret}!`).then(() => new Error('resolved'), (e: unknown) => e as Error),
    ]);
    expect(errors.map((e) => e.name)).toEqual(['SessionNotFoundError', 'InvalidArgumentError']);
    for (const error of errors) expect(error.message).not.toContain('S3cr3t');
  });
});

describe('destroy', () => {
  it('destroy removes one session', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u11' });
    expect(await store.destroy(id)).toBe(true);
    expect(await store.get(id)).toBeNull();
    expect(await store.destroy(id)).toBe(false);
  });

  it('destroyAllForUser removes every session of that user and no other', async () => {
    const schema = z.object({ note: z.string().optional() });
    const own = uniquePrefix('all');
    const sessions = createSessionStore({ redis, schema, keyPrefix: own });
    const create = (tenantId: string, userId: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => sessions.create({ tenantId, userId }).then((c) => c.id)));
    const target = await create('t1', 'alice', 7);
    const sameTenantOtherUser = await create('t1', 'bob', 3);
    const sameUserOtherTenant = await create('t2', 'alice', 2);
    // A user id that would collide with alice's index if keys were joined without escaping.
    const lookalike = await create('t1', 'alice:x', 2);
    await sessions.destroy(target[0]!);

    expect(await sessions.destroyAllForUser('t1', 'alice')).toBe(6);
    for (const id of target) expect(await sessions.get(id)).toBeNull();
    for (const id of [...sameTenantOtherUser, ...sameUserOtherTenant, ...lookalike]) expect(await sessions.get(id)).not.toBeNull();
    expect(await sessions.destroyAllForUser('t1', 'alice')).toBe(0);
    expect(await sessions.destroyAllForUser('t1', 'nobody')).toBe(0);
    for (const key of await keysUnder(redis, own)) await redis.del(key);
  });

  it('the user index outlives every session in it, and itself expires', async () => {
    const { id } = await store.create({ tenantId: tenant, userId: 'u12' });
    const index = userIndexKey(prefix, tenant, 'u12');
    const indexTtl = await redis.pttl(index);
    expect(indexTtl).toBeGreaterThanOrEqual(await redis.pttl(sessionKey(prefix, id)));
    expect(indexTtl).toBeLessThanOrEqual(2 * 7_200_000);
    expect(await redis.zscore(index, id)).not.toBeNull();
  });

  it('a session kept alive past the horizon renews its index entry (1 s TTL, touched for 3 s)', async () => {
    const short = createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix, ttlSeconds: 1 });
    const { id } = await short.create({ tenantId: tenant, userId: 'u13' });
    const index = userIndexKey(prefix, tenant, 'u13');
    const deadline = Date.now() + 3000;
    let step = 0;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const alive = step++ % 2 === 0 ? await short.get(id) : await short.touch(id);
      expect(alive).not.toBeNull();
      const before = Date.now();
      const [sessionTtl, indexTtl, score] = await Promise.all([redis.pttl(sessionKey(prefix, id)), redis.pttl(index), redis.zscore(index, id)]);
      expect(indexTtl).toBeGreaterThanOrEqual(sessionTtl);
      // The session expires at (read time + sessionTtl), never after its index entry's horizon.
      expect(Number(score)).toBeGreaterThanOrEqual(before + sessionTtl - 2);
    }
    expect(await short.destroyAllForUser(tenant, 'u13')).toBe(1);
  });
});
