import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createScriptBatcher } from './batch';
import { defineScript } from './scripts';

const redis = new Redis(process.env.REDIS_URL!);
const keys: string[] = [];

afterAll(async () => {
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** A fresh pair (a unique comment makes a SHA no server has seen: the first call meets NOSCRIPT). */
function appendScripts() {
  const tag = `-- ${randomUUID()}`;
  const body = `${tag}
local function append(keys, argv)
  return redis.call('APPEND', keys[1], argv[1])
end
`;
  const single = defineScript<number>({
    name: 'testAppend',
    numberOfKeys: 1,
    lua: `${body}return append(KEYS, ARGV)\n`,
  });
  const batch = defineScript<unknown>({
    name: 'testAppendBatch',
    numberOfKeys: 0,
    lua: `${body}--- @include "eachCall"\nreturn eachCall(append)\n`,
  });
  return { single, batch };
}

function counting(client: Redis) {
  const calls = { evalsha: 0, eval: 0 };
  const wrapped = {
    status: 'ready',
    evalsha: (...args: Parameters<Redis['evalsha']>) => {
      calls.evalsha++;
      return client.evalsha(...args);
    },
    eval: (...args: Parameters<Redis['eval']>) => {
      calls.eval++;
      return client.eval(...args);
    },
  };
  return { wrapped, calls };
}

function key(): string {
  const k = `batchtest:${randomUUID()}`;
  keys.push(k);
  return k;
}

test('calls of one turn run in order in one script call, each resolving to its own reply; NOSCRIPT is retried once', async () => {
  const { single, batch } = appendScripts();
  const batcher = createScriptBatcher(single, batch);
  const { wrapped, calls } = counting(redis);
  const k = key();
  const replies = await Promise.all(['a', 'bb', 'c', 'dddd'].map((s) => batcher.run(wrapped, [k], [s])));
  expect(replies).toEqual([1, 3, 4, 8]);
  expect(await redis.get(k)).toBe('abbcdddd');
  expect(calls).toEqual({ evalsha: 1, eval: 1 });
  // Loaded now: the next batch is one EVALSHA.
  await Promise.all([batcher.run(wrapped, [k], ['x']), batcher.run(wrapped, [k], ['y'])]);
  expect(calls).toEqual({ evalsha: 2, eval: 1 });
});

test('a lone call goes through the single script; more than 128 calls are split', async () => {
  const { single, batch } = appendScripts();
  await redis.script('LOAD', single.lua);
  await redis.script('LOAD', batch.lua);
  const batcher = createScriptBatcher(single, batch);
  const { wrapped, calls } = counting(redis);
  const k = key();
  expect(await batcher.run(wrapped, [k], ['a'])).toBe(1);
  expect(calls.evalsha).toBe(1);
  const replies = await Promise.all(Array.from({ length: 200 }, () => batcher.run(wrapped, [k], ['b'])));
  expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
  expect(calls.evalsha).toBe(3);
});

test('a failing call rejects alone with a Redis error reply; the wrong key count is refused before anything is sent', async () => {
  const { single, batch } = appendScripts();
  const batcher = createScriptBatcher(single, batch);
  const { wrapped } = counting(redis);
  const good = key();
  const bad = key();
  await redis.hset(bad, 'f', 'v');
  const results = await Promise.allSettled([batcher.run(wrapped, [good], ['a']), batcher.run(wrapped, [bad], ['a']), batcher.run(wrapped, [good], ['b'])]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const error = (results[1] as PromiseRejectedResult).reason as Error;
  expect(error.name).toBe('ReplyError');
  expect(error.message).toMatch(/WRONGTYPE/);
  expect(await redis.get(good)).toBe('ab');
  await expect(batcher.run(wrapped, [good, bad], ['a'])).rejects.toThrow(/takes 1 keys, got 2/);
});

test('a connection error fails every call of its batch', async () => {
  const { single, batch } = appendScripts();
  const batcher = createScriptBatcher(single, batch);
  const broken = {
    status: 'ready',
    evalsha: () => Promise.reject(new Error('Connection is closed.')),
    eval: () => Promise.reject(new Error('Connection is closed.')),
  };
  const results = await Promise.allSettled([batcher.run(broken, ['k1'], ['a']), batcher.run(broken, ['k2'], ['a'])]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
});

/** A pair whose batch script is a loop of its own and replies flat (replyWidth 2): `{length, argument}` per call. */
function flatAppendScripts() {
  const tag = `-- ${randomUUID()}`;
  const body = `${tag}
local function append(key, value)
  return redis.call('APPEND', key, value), value
end
`;
  const single = defineScript<[number, string]>({ name: 'testFlatAppend', numberOfKeys: 1, lua: `${body}return { append(KEYS[1], ARGV[1]) }\n` });
  const batch = defineScript<unknown>({
    name: 'testFlatAppendBatch',
    numberOfKeys: 0,
    lua: `${body}local out = {}
for i = 1, #KEYS do
  local ok, a, b = pcall(append, KEYS[i], ARGV[2 + i])
  if ok then out[#out + 1] = 1; out[#out + 1] = a; out[#out + 1] = b
  else out[#out + 1] = 0; out[#out + 1] = tostring(type(a) == 'table' and a.err or a); out[#out + 1] = '' end
end
return out
`,
  });
  return { single, batch };
}

test('replyWidth: a flat batch reply resolves each call to its elements, as the single script replies; a failing call rejects alone', async () => {
  const { single, batch } = flatAppendScripts();
  const batcher = createScriptBatcher(single, batch, { replyWidth: 2 });
  const { wrapped, calls } = counting(redis);
  const good = key();
  const bad = key();
  await redis.hset(bad, 'f', 'v');
  const results = await Promise.allSettled([batcher.run(wrapped, [good], ['a']), batcher.run(wrapped, [bad], ['x']), batcher.run(wrapped, [good], ['bc'])]);
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : ((r.reason as Error).message.match(/WRONGTYPE/) ?? ['?'])[0]))).toEqual([[1, 'a'], 'WRONGTYPE', [3, 'bc']]);
  expect(calls).toEqual({ evalsha: 1, eval: 1 });
  // A lone call: the single script's own reply, the same shape.
  expect(await batcher.run(wrapped, [good], ['d'])).toEqual([4, 'd']);
  expect(() => createScriptBatcher(single, batch, { replyWidth: 0 })).toThrow(/replyWidth must be a positive integer/);
});

test('replyWidth: a batch reply shorter than its calls rejects the calls it left out', async () => {
  const { single } = flatAppendScripts();
  const short = defineScript<unknown>({ name: 'testShortBatch', numberOfKeys: 0, lua: `-- ${randomUUID()}\nreturn { 1, 7, 'a' }\n` });
  const batcher = createScriptBatcher(single, short, { replyWidth: 2 });
  const { wrapped } = counting(redis);
  const results = await Promise.allSettled([batcher.run(wrapped, [key()], ['a']), batcher.run(wrapped, [key()], ['b'])]);
  expect(results[0]).toEqual({ status: 'fulfilled', value: [7, 'a'] });
  expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'script testFlatAppend: no reply in its batch' });
});
