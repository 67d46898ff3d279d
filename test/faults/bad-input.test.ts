// Scenario 7: bad input, property-based (fast-check). Every call either succeeds or throws the
// package's typed error (instanceof PlatformError); no unhandled rejection; a refused call writes
// nothing (DBSIZE of a private server unchanged).
import { acquireLock } from '@platform/locks';
import { notifyOnce, closeNotificationQueues } from '@platform/notifications';
import { createRateLimiter } from '@platform/ratelimit';
import { createRedisConnection, defineQueue, loadRedisConfig, queueName, type QueueDefinition } from '@platform/queue';
import { PlatformError, assertTenantId, redisKey, type RedisClient } from '@platform/redis';
import { startRedisServer, type RedisServer } from '@platform/testing';
import fc from 'fast-check';
import { z } from 'zod';
import { FAULT_TEST_TIMEOUT_MS, FULL, closeAll, size } from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const RUNS = size(1000, 100);

let server: RedisServer;
let redis: RedisClient;
let producer: RedisClient;
let definition: QueueDefinition;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const tally = { calls: 0, refused: 0, untyped: 0, writesOnRefusal: 0 };
const started = Date.now();

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startRedisServer();
  const config = loadRedisConfig({ REDIS_URL: server.url });
  redis = createRedisConnection(config, { role: 'worker' });
  producer = createRedisConnection(config, { role: 'producer' });
  definition = defineQueue({
    namespace: 'faults',
    name: 'bad-input',
    schema: z.object({ n: z.number().int(), text: z.string().max(200) }),
    connection: producer,
    maxPayloadBytes: 4096,
  });
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await closeAll({ definitions: [definition, { close: closeNotificationQueues }], clients: [producer, redis], servers: [server] });
  recordScenario({
    scenario: 'bad-input',
    faults: tally.refused,
    jobs: tally.calls,
    lost: 0,
    duplicates: 0,
    extra: { 'calls refused (typed)': tally.refused - tally.untyped, 'untyped errors': tally.untyped, 'writes by refused calls': tally.writesOnRefusal, 'unhandled rejections': unhandled.length },
    passed: tally.untyped === 0 && tally.writesOnRefusal === 0 && unhandled.length === 0,
    size: FULL ? 'full' : 'reduced',
    seconds: (Date.now() - started) / 1000,
  });
  printSummaryIfComplete();
});

/**
 * DBSIZE once the background work of earlier accepted calls is over: a fair queue's enqueue starts
 * a dispatch step it does not await, which may delete a tenant's emptied pending set right after.
 * Stable over two reads 10 ms apart (at most half a second).
 */
async function settledDbsize(): Promise<number> {
  let last = await redis.dbsize();
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = await redis.dbsize();
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Runs `call`; a throw must be a PlatformError and, with `checkWrites`, must leave DBSIZE unchanged. */
async function judge(call: () => unknown, checkWrites: boolean): Promise<{ ok: boolean; error?: unknown }> {
  tally.calls += 1;
  const before = checkWrites ? await settledDbsize() : 0;
  try {
    await call();
    return { ok: true };
  } catch (error) {
    tally.refused += 1;
    if (!(error instanceof PlatformError)) tally.untyped += 1;
    if (checkWrites) {
      const after = await redis.dbsize();
      if (after !== before) tally.writesOnRefusal += 1;
      expect(after).toBe(before);
    }
    expect(error).toBeInstanceOf(PlatformError);
    return { ok: false, error };
  }
}

// Strings that are often nearly valid: short, from a key-ish alphabet, plus arbitrary unicode.
const nearly = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.@:%{}*?\- ]{0,12}$/),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', ':', 'a:b', 'tenant-1', 'x'.repeat(129), '\u0000', 'ok_1', '𝔘', '__proto__', 'constructor'),
);
// Objects no template literal or String() can print (a message built from one throws a TypeError):
// always in the mix, so the reduced run of `npm test` meets them too.
const unprintable: object[] = [
  { toString: false },
  { toString: 0, valueOf: 0 },
  Object.create(null) as object,
  {
    [Symbol.toPrimitive]: () => {
      throw new Error('no primitive');
    },
  },
];
const anything = fc.oneof(nearly, fc.anything(), fc.constantFrom(null, undefined, NaN, Infinity, -1, 0, 1.5, 2 ** 53, [], {}), fc.constantFrom(...unprintable));

test('queueName with any value: a valid name or QueueNameError', async () => {
  await fc.assert(
    fc.asyncProperty(anything, anything, async (namespace, name) => {
      const { ok } = await judge(() => queueName(namespace as string, name as string), false);
      if (ok) expect(queueName(namespace as string, name as string)).toMatch(/^[A-Za-z0-9_-]+__[A-Za-z0-9_-]+$/);
    }),
    // The first example is a counterexample fast-check found (String() of it throws a TypeError).
    { numRuns: RUNS, examples: [[{ toString: 0 }, 'name'], [Symbol('ns'), 'name']] },
  );
});

test('defineQueue with near-valid names: a definition or QueueNameError, nothing written', async () => {
  await fc.assert(
    fc.asyncProperty(nearly, nearly, async (namespace, name) => {
      await judge(() => defineQueue({ namespace, name, schema: z.object({}), connection: producer }), true);
    }),
    { numRuns: RUNS },
  );
});

test('redisKey and assertTenantId: a key or InvalidArgumentError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(anything, { maxLength: 4 }), anything, async (parts, tenant) => {
      const { ok } = await judge(() => redisKey(...(parts as string[])), false);
      if (ok && parts.length > 0) expect(redisKey(...(parts as string[])).split(':')).toHaveLength(parts.length);
      await judge(() => assertTenantId(tenant), false);
    }),
    { numRuns: RUNS },
  );
});

test('loadRedisConfig: a config or ConfigError, never echoing the password', async () => {
  const envValue = fc.option(fc.oneof(nearly, fc.constantFrom('redis://127.0.0.1:6379', 'rediss://h:1/3', 'redis://u:p@h:99999', 'http://x', '16', '-1', 'h1:26379,h2', 'h:0', '/nonexistent.pem')), { nil: undefined });
  await fc.assert(
    fc.asyncProperty(
      fc.record({ REDIS_URL: envValue, REDIS_DB: envValue, REDIS_SENTINEL_HOSTS: envValue, REDIS_SENTINEL_NAME: envValue, REDIS_TLS_CA_FILE: envValue }),
      async (env) => {
        const password = 'pw-Secret-4242';
        const { error } = await judge(() => loadRedisConfig({ ...env, REDIS_PASSWORD: password }), false);
        if (error) expect(String((error as Error).message)).not.toContain(password);
      },
    ),
    { numRuns: RUNS },
  );
});

test('enqueue: bad payloads, tenant ids and options are refused with a typed error and write nothing', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ tenantId: anything, n: fc.oneof(fc.integer(), anything), text: fc.oneof(fc.string({ maxLength: 300 }), anything) }, { requiredKeys: [] }),
        fc.record({ tenantId: fc.constantFrom('tenant-1', 'acme'), n: fc.integer(), text: fc.string({ maxLength: 5000 }) }),
        anything,
      ),
      async (payload) => {
        await judge(() => definition.enqueue(payload as never), true);
        await judge(() => definition.enqueueBulk([{ tenantId: 'tenant-ok', n: 1, text: 'fine' }, payload] as never), true);
      },
    ),
    { numRuns: RUNS },
  );
});

test('notifyOnce: bad tenant ids, types, dedupe keys, channels and payloads are refused and write nothing', async () => {
  const channel = fc.oneof(fc.constantFrom('email', 'sms', 'whatsapp', 'telegram', 'web'), anything);
  const payload = fc.oneof(
    fc.record({ to: fc.oneof(fc.emailAddress(), anything), subject: fc.oneof(fc.string({ maxLength: 50 }), anything), text: fc.string({ maxLength: 50 }) }, { requiredKeys: [] }),
    fc.record({ to: fc.constantFrom('+15551234567', '555', ''), text: fc.string({ maxLength: 50 }) }),
    fc.record({ chatId: fc.oneof(fc.string(), fc.integer()), text: fc.string({ maxLength: 50 }) }),
    anything,
  );
  await fc.assert(
    fc.asyncProperty(anything, anything, anything, channel, payload, async (tenantId, type, dedupeKey, ch, body) => {
      await judge(() => notifyOnce({ tenantId, type, dedupeKey, channel: ch, payload: body } as never, { connection: producer, keyPrefix: 'bad-input' }), true);
    }),
    { numRuns: RUNS },
  );
});

test('acquireLock: bad lock keys and TTLs are refused with a typed error and write nothing', async () => {
  await fc.assert(
    fc.asyncProperty(anything, fc.oneof(fc.integer({ min: 1, max: 5000 }), anything), fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 10 }), anything), async (key, ttlMs, waitMs) => {
      let lock: Awaited<ReturnType<typeof acquireLock>> = null;
      await judge(async () => {
        lock = await acquireLock(producer, key as string, { ttlMs: ttlMs as number, waitMs: waitMs as number });
      }, true);
      if (lock) await (lock as { release(): Promise<boolean> }).release();
    }),
    { numRuns: RUNS, examples: [[{ toString: false }, null, 0], [{ toString: false }, 1000, 10]] },
  );
});

test('rate limiters: bad provider names, limits, windows and tenant ids are refused and write nothing', async () => {
  const algorithm = fc.oneof(fc.constantFrom('fixed-window', 'sliding-window', 'token-bucket', undefined), anything);
  await fc.assert(
    fc.asyncProperty(anything, fc.oneof(fc.integer({ min: 1, max: 100 }), anything), fc.oneof(fc.integer({ min: 1, max: 60 }), anything), algorithm, anything, async (provider, limit, windowSeconds, alg, tenantId) => {
      const created = await judge(() => createRateLimiter({ redis: producer, provider: provider as string, limit: limit as number, windowSeconds: windowSeconds as number, algorithm: alg as never }), true);
      if (!created.ok) return;
      const limiter = createRateLimiter({ redis: producer, provider: provider as string, limit: limit as number, windowSeconds: windowSeconds as number, algorithm: alg as never });
      await judge(() => limiter.consume(tenantId as string), true);
    }),
    { numRuns: RUNS },
  );
});

test('no unhandled rejection, no untyped error, no write by a refused call', () => {
  expect(unhandled).toEqual([]);
  expect(tally.untyped).toBe(0);
  expect(tally.writesOnRefusal).toBe(0);
  expect(tally.refused).toBeGreaterThan(0);
});
