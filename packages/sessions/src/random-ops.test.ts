import { createResumeCache } from './resume-cache';
import { createSessionStore } from './store';
import { cartSchema, keysUnder, testRedis } from './test-helpers';

const { redis, prefix, cleanup } = testRedis('sessions-random');

afterAll(cleanup);

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPERATIONS = 10_000;
const PARALLEL = 25;

it(`after ${OPERATIONS} random operations no session key, index or resume key is left without a TTL, and every session is in its user's index`, async () => {
  const seed = Number(process.env.SESSIONS_SEED ?? Date.now() % 2 ** 31);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  // Two stores on one key space: a 2 h one and a 1 s one, whose sessions cross their index horizon while the test runs.
  const stores = [
    createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix }),
    createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix, ttlSeconds: 1 }),
    createSessionStore({ redis, schema: cartSchema, keyPrefix: prefix, sliding: false }),
  ];
  const resume = createResumeCache({ redis, keyPrefix: prefix });
  const owners = Array.from({ length: 12 }, (_, i) => ({ tenantId: `t${i % 3}`, userId: `u${i % 4}` }));
  const ids: string[] = [];
  const counts = new Map<string, number>();

  const operation = async (): Promise<void> => {
    const store = pick(stores);
    const kind = ids.length === 0 ? 'create' : pick(['create', 'create', 'get', 'get', 'update', 'update', 'touch', 'set', 'destroy', 'destroyAll', 'resume'] as const);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const id = pick(ids);
    switch (kind) {
      case 'create':
        ids.push((await store.create({ ...pick(owners), cart: [String(next())] })).id);
        break;
      case 'get':
        await store.get(id!);
        break;
      case 'update':
        // Lost races and vanished sessions are expected outcomes here; only keys and TTLs are checked.
        await store.update(id!, (current) => ({ counter: current.counter + 1 }), next() < 0.5 ? { ifVersion: 1 } : {}).catch((error: Error) => {
          if (!['SessionConflictError', 'SessionNotFoundError'].includes(error.name)) throw error;
        });
        break;
      case 'touch':
        await store.touch(id!);
        break;
      case 'set':
        // express-session's save: replaces the session, possibly under another owner.
        await store.set(id!, { ...pick(owners), counter: 7 });
        break;
      case 'destroy':
        await store.destroy(id!);
        break;
      case 'destroyAll': {
        const owner = pick(owners);
        await store.destroyAllForUser(owner.tenantId, owner.userId);
        break;
      }
      case 'resume':
        if (next() < 0.7) await resume.remember(`activity-${Math.floor(next() * 50)}`, `claude-${Math.floor(next() * 1e9)}`);
        else await resume.forget(`activity-${Math.floor(next() * 50)}`);
        break;
    }
  };

  for (let done = 0; done < OPERATIONS; done += PARALLEL) {
    await Promise.all(Array.from({ length: PARALLEL }, operation)).catch((error: unknown) => {
      throw new Error(`seed ${seed}: ${String(error)}`);
    });
  }
  expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(OPERATIONS);

  const keys = await keysUnder(redis, prefix);
  const withoutTtl: string[] = [];
  const sessions: string[] = [];
  for (const key of keys) {
    const pttl = await redis.pttl(key);
    if (pttl < 0 && pttl !== -2) withoutTtl.push(key);
    if (key.startsWith(`${prefix}:session:`)) sessions.push(key);
  }
  expect({ seed, withoutTtl }).toEqual({ seed, withoutTtl: [] });
  expect(sessions.length).toBeGreaterThan(0);
  expect(keys.some((key) => key.startsWith(`${prefix}:session_user:`))).toBe(true);
  expect(keys.some((key) => key.startsWith(`${prefix}:claude_session:`))).toBe(true);

  // Every live session is in its owner's index, with an entry and an index TTL that outlast it.
  const lost: string[] = [];
  for (const key of sessions) {
    const id = key.slice(`${prefix}:session:`.length);
    const before = Date.now();
    const [[tenantId, userId], pttl] = await Promise.all([redis.hmget(key, 't', 'u'), redis.pttl(key)]);
    if (pttl < 0) continue; // expired meanwhile
    const index = `${prefix}:session_user:${tenantId}:${userId}`;
    const [score, indexTtl] = await Promise.all([redis.zscore(index, id), redis.pttl(index)]);
    const after = Date.now();
    // The session expires at about before + pttl (read after `before`); its entry and index must not go first.
    if (score === null || Number(score) < before + pttl - 2 || after + indexTtl < before + pttl - 2) lost.push(key);
  }
  expect({ seed, lost }).toEqual({ seed, lost: [] });
}, 120_000);
