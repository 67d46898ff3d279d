import { Redis } from 'ioredis';
import { defineScript } from './scripts';

const redis = new Redis(process.env.REDIS_URL!);
afterAll(() => redis.quit());

describe('defineScript', () => {
  const script = defineScript<number>({
    name: 'addToKey',
    numberOfKeys: 1,
    lua: "local v = redis.call('INCRBY', KEYS[1], ARGV[1]); redis.call('PEXPIRE', KEYS[1], 60000); return v -- addToKey test",
  });

  it('SCRIPT LOAD returns the sha the code expects', async () => {
    expect(await redis.script('LOAD', script.lua)).toBe(script.sha);
  });

  it('runs by SHA, loading the script on NOSCRIPT', async () => {
    // A script this server has never seen (unique text), so the first run takes the NOSCRIPT path.
    const fresh = defineScript<number>({ name: 'freshScript', numberOfKeys: 1, lua: `${script.lua} -- ${process.pid}-${Date.now()}` });
    expect(await redis.script('EXISTS', fresh.sha)).toEqual([0]);
    const key = `scripts-test:${process.pid}:${Date.now()}`;
    expect(await fresh.run(redis, [key], [2])).toBe(2);
    expect(await redis.script('EXISTS', fresh.sha)).toEqual([1]);
    expect(await fresh.run(redis, [key], [3])).toBe(5);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    await redis.del(key);
  });

  it('runWithKeyCount takes any number of keys (first call loads the script on NOSCRIPT) and passes other errors through', async () => {
    const many = defineScript<string[]>({
      name: 'keysAndArgs',
      numberOfKeys: 0,
      lua: `return { #KEYS, #ARGV, KEYS[#KEYS], ARGV[1] } -- ${process.pid}-${Date.now()}`,
    });
    expect(await redis.script('EXISTS', many.sha)).toEqual([0]);
    expect(await many.runWithKeyCount(redis, 3, ['a', 'b', 'c', 'x', 'y'])).toEqual([3, 2, 'c', 'x']);
    expect(await redis.script('EXISTS', many.sha)).toEqual([1]);
    expect(await many.runWithKeyCount(redis, 1, ['k', 'only'])).toEqual([1, 1, 'k', 'only']);
    const failing = defineScript<number>({ name: 'failing', numberOfKeys: 0, lua: "return redis.call('INCR', KEYS[1], 'extra')" });
    await expect(failing.runWithKeyCount(redis, 1, ['k'])).rejects.toThrow(/wrong number of arg/i);
  });

  it('checks the number of keys', async () => {
    await expect(script.run(redis, [], [1])).rejects.toThrow(/takes 1 keys/);
  });

  it('splices includes in place of their --- @include lines, and hashes the result', async () => {
    const twice = 'local function twice(n) return n * 2 end';
    const included = defineScript<number>({
      name: 'twiceIt',
      numberOfKeys: 0,
      lua: '-- header\n--- @include "twice"\nreturn twice(tonumber(ARGV[1]))\n',
      includes: { twice: `${twice}\n\n` },
    });
    expect(included.lua).toBe(`-- header\n${twice}\nreturn twice(tonumber(ARGV[1]))\n`);
    expect(await redis.script('LOAD', included.lua)).toBe(included.sha);
    expect(await included.run(redis, [], [21])).toBe(42);
  });

  it('refuses an include that was not given', () => {
    expect(() => defineScript({ name: 'missing', numberOfKeys: 0, lua: '--- @include "nope"\nreturn 1' })).toThrow(/includes "nope"/);
    expect(() =>
      defineScript({ name: 'inherited', numberOfKeys: 0, lua: '--- @include "toString"\nreturn 1', includes: {} }),
    ).toThrow(/includes "toString"/);
  });
});
