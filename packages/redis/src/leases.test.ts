import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from './errors';
import { leaseScripts, leases } from './leases';
import { defineScript } from './scripts';

const redis = new Redis(process.env.REDIS_URL!);
const prefix = uniquePrefix('leases');

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('leases', () => {
  it('holds at most limit live leases, and says how long until the earliest expires', async () => {
    const key = `${prefix}:limit`;
    expect(await leases.take(redis, key, 'a', 2, 5000)).toEqual({ taken: true, live: 1, waitMs: 0 });
    expect(await leases.take(redis, key, 'b', 2, 8000)).toEqual({ taken: true, live: 2, waitMs: 0 });
    const refused = await leases.take(redis, key, 'c', 2, 5000);
    expect(refused).toMatchObject({ taken: false, live: 2 });
    expect(refused.waitMs).toBeGreaterThan(4000);
    expect(refused.waitMs).toBeLessThanOrEqual(5000);
    // The set lives as long as its longest lease.
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(7000);
    expect(pttl).toBeLessThanOrEqual(8000);
    expect(await leases.count(redis, key)).toBe(2);
  });

  it('frees the slot of a lease nobody refreshed, and refuses to refresh or release it', async () => {
    const key = `${prefix}:expiry`;
    // 1.5 s, not less: on a loaded machine the second take may come tens of ms after the first.
    expect((await leases.take(redis, key, 'dead', 1, 1500)).taken).toBe(true);
    expect((await leases.take(redis, key, 'next', 1, 5000)).taken).toBe(false);
    await sleep(1600);
    expect(await leases.count(redis, key)).toBe(0);
    expect(await leases.refresh(redis, key, 'dead', 5000)).toBe(false);
    expect(await leases.release(redis, key, 'dead')).toBe(false);
    expect((await leases.take(redis, key, 'next', 1, 5000)).taken).toBe(true);
  });

  it('refreshes a live lease from now, and releases it once, announcing the free slot', async () => {
    const key = `${prefix}:refresh`;
    await leases.take(redis, key, 'a', 1, 1000);
    expect(await leases.refresh(redis, key, 'a', 20_000)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(10_000);
    const subscriber = redis.duplicate();
    const channel = `${key}:released`;
    await subscriber.subscribe(channel);
    const message = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, text: string) => resolve(text)));
    expect(await leases.release(redis, key, 'a', channel)).toBe(true);
    expect(await message).toBe('1');
    await subscriber.quit();
    expect(await leases.release(redis, key, 'a', channel)).toBe(false);
    expect(await leases.count(redis, key)).toBe(0);
  });

  it('checks its arguments before Redis is touched', async () => {
    await expect(leases.take(redis, `${prefix}:bad`, 'a', 0, 1000)).rejects.toThrow(InvalidArgumentError);
    await expect(leases.take(redis, `${prefix}:bad`, 'a', 1, 1.5)).rejects.toThrow(/ttlMs/);
    await expect(leases.refresh(redis, `${prefix}:bad`, 'a', -1)).rejects.toThrow(InvalidArgumentError);
    expect(await redis.exists(`${prefix}:bad`)).toBe(0);
  });

  it('the same Lua serves other scripts as the shared nowMs and leases includes', async () => {
    const key = `${prefix}:include`;
    const takeTwice = defineScript<[number, number]>({
      name: 'takeTwice',
      numberOfKeys: 1,
      lua: '--- @include "nowMs"\n--- @include "leases"\nlocal now = nowMs()\nlocal a = leaseTake(KEYS[1], "x", 1, 1000, now)\nlocal b = leaseTake(KEYS[1], "y", 1, 1000, now)\nreturn { a, b }\n',
    });
    const [first, second] = await takeTwice.run(redis, [key], []);
    expect(first).toBe(1);
    expect(second).toBeLessThanOrEqual(-1000);
    expect(second).toBeGreaterThanOrEqual(-1001);
    // leaseRelease tells a live lease (1) from an expired one (-1) and from none (0).
    const release = defineScript<number[]>({
      name: 'releaseKinds',
      numberOfKeys: 1,
      lua: '--- @include "nowMs"\n--- @include "leases"\nlocal now = nowMs()\nredis.call("ZADD", KEYS[1], now + 60000, "live")\nredis.call("ZADD", KEYS[1], now - 1, "gone")\nreturn { leaseRelease(KEYS[1], "live", now), leaseRelease(KEYS[1], "gone", now), leaseRelease(KEYS[1], "none", now) }\n',
    });
    expect(await release.run(redis, [`${prefix}:kinds`], [])).toEqual([1, -1, 0]);
    expect(() => defineScript({ name: 'clash', numberOfKeys: 0, lua: 'return 1', includes: { nowMs: 'x' } })).toThrow(/shared include "nowMs"/);
  });

  it('nowMs and nowUs read the Redis clock', async () => {
    const clock = defineScript<[number, number]>({
      name: 'clock',
      numberOfKeys: 0,
      lua: '--- @include "nowMs"\n--- @include "nowUs"\nreturn { nowMs(), tostring(nowUs()) }\n',
    });
    const [before] = await redis.time();
    const [ms, us] = await clock.run(redis, [], []);
    const [after] = await redis.time();
    expect(ms).toBeGreaterThanOrEqual(Number(before) * 1000);
    expect(ms).toBeLessThanOrEqual((Number(after) + 1) * 1000);
    expect(Math.floor(Number(us) / 1000)).toBeGreaterThanOrEqual(ms);
  });
});

describe('Lua files of @platform/redis', () => {
  it('SCRIPT LOAD of each script returns the sha the code calls it by', async () => {
    for (const script of leaseScripts) expect(await redis.script('LOAD', script.lua)).toBe(script.sha);
  });

  it('every file in lua/ is a script whose numberOfKeys matches its <name>-<keys>.lua name', () => {
    const files = readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua')).sort();
    expect(files).toEqual(leaseScripts.map((s) => `${s.name}-${s.numberOfKeys}.lua`).sort());
  });

  it('every script header lists each KEYS[i] and ARGV[i] the script uses', () => {
    for (const script of leaseScripts) {
      const source = readFileSync(join(__dirname, 'lua', `${script.name}-${script.numberOfKeys}.lua`), 'utf8');
      const [header, ...rest] = source.split(']]');
      for (const match of rest.join(']]').matchAll(/(KEYS|ARGV)\[(\d+)\]/g)) expect(header).toContain(`${match[1]}[${match[2]}]`);
      for (let i = 1; i <= script.numberOfKeys; i++) expect(header).toContain(`KEYS[${i}]`);
      expect(header).not.toContain(`KEYS[${script.numberOfKeys + 1}]`);
    }
  });

  it('no script reads TIME itself: the clock comes from the nowMs/nowUs includes', () => {
    for (const file of readdirSync(join(__dirname, 'lua'))) {
      if (!file.endsWith('.lua')) continue;
      expect({ file, time: /'TIME'/.test(readFileSync(join(__dirname, 'lua', file), 'utf8')) }).toEqual({ file, time: false });
    }
  });
});
