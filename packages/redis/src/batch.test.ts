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

/**
 * A pair with shared values: the single script appends `ARGV[2] .. ARGV[1]` to `KEYS[1]` and counts
 * the call in `KEYS[2]`; `KEYS[2]` and `ARGV[2]` are shared (the batch reads them once).
 */
function sharedAppendScripts() {
  const tag = `-- ${randomUUID()}`;
  const body = `${tag}
local function append(key, counter, value, separator)
  redis.call('INCR', counter)
  return redis.call('APPEND', key, separator .. value)
end
`;
  const single = defineScript<number>({ name: 'testSharedAppend', numberOfKeys: 2, lua: `${body}return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2])\n` });
  const batch = defineScript<unknown>({
    name: 'testSharedAppendBatch',
    numberOfKeys: 0,
    lua: `${body}local nShared = tonumber(ARGV[3])
local counter, separator = KEYS[nShared], ARGV[5]
local out = {}
local a = 4 + tonumber(ARGV[4])
for k = nShared + 1, #KEYS do
  a = a + 1
  out[#out + 1] = 1; out[#out + 1] = append(KEYS[k], counter, ARGV[a], separator)
end
return out
`,
  });
  return { single, batch };
}

test('shared: calls are grouped by their shared values, each batch sends them once and keeps call order within it', async () => {
  const { single, batch } = sharedAppendScripts();
  const batcher = createScriptBatcher(single, batch, { shared: { keys: [1], args: [1] } });
  const sent: unknown[][] = [];
  const wrapped = {
    status: 'ready',
    evalsha: (...args: Parameters<Redis['evalsha']>) => {
      sent.push(args);
      return redis.evalsha(...args);
    },
    eval: (...args: Parameters<Redis['eval']>) => redis.eval(...args),
  };
  const [k1, k2, counterA, counterB] = [key(), key(), key(), key()];
  await redis.script('LOAD', single.lua);
  await redis.script('LOAD', batch.lua);
  // Interleaved: two groups by separator and counter; one call alone in its group (the single script).
  const replies = await Promise.all([
    batcher.run(wrapped, [k1, counterA], ['a', '-']),
    batcher.run(wrapped, [k2, counterB], ['x', '+']),
    batcher.run(wrapped, [k1, counterA], ['b', '-']),
    batcher.run(wrapped, [k2, counterB], ['y', '+']),
    batcher.run(wrapped, [k1, counterB], ['c', '-']),
    batcher.run(wrapped, [k2, counterA], ['z', '-']),
  ]);
  expect(await redis.get(k1)).toBe('-a-b-c');
  // Groups go in the order of their first call, so z (first group) lands before x and y.
  expect(await redis.get(k2)).toBe('-z+x+y');
  expect(replies).toEqual([2, 4, 4, 6, 6, 2]);
  expect([await redis.get(counterA), await redis.get(counterB)]).toEqual(['3', '3']);
  // (counterA, '-'), (counterB, '+'), then (counterB, '-') alone: the shared values once per batch.
  expect(sent).toEqual([
    [batch.sha, 4, counterA, k1, k1, k2, 1, 1, 1, 1, '-', 'a', 'b', 'z'],
    [batch.sha, 3, counterB, k2, k2, 1, 1, 1, 1, '+', 'x', 'y'],
    [single.sha, 2, k1, counterB, 'c', '-'],
  ]);
  expect(() => createScriptBatcher(single, batch, { shared: { keys: [2] } })).toThrow(/shared key positions must be distinct integers from 0 to 1/);
  expect(() => createScriptBatcher(single, batch, { shared: { args: [1, 1] } })).toThrow(/shared argument positions/);
});
