import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { luaScriptProblems } from './lua-scripts';

const redis = new Redis(process.env.REDIS_URL!);
const dir = mkdtempSync(join(tmpdir(), 'lua-scripts-'));

afterAll(async () => {
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const script = (name: string, numberOfKeys: number, lua: string, sha = sha1(lua)) => ({ name, numberOfKeys, lua, sha });

test('scripts that keep the conventions have no problems', async () => {
  const good = script('incr', 1, "--[[\n  KEYS[1] counter\n  ARGV[1] by\n  Returns the new value\n]]\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])");
  const clean = join(dir, 'clean');
  mkdirSync(clean);
  writeFileSync(join(clean, 'incr-1.lua'), good.lua);
  expect(await luaScriptProblems(redis, [good], clean)).toEqual([]);
});

test('each broken convention is reported', async () => {
  const unlisted = script('unlisted', 1, "--[[\n  KEYS[1] counter\n  Returns it\n]]\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])");
  const wrongSha = script('wrongSha', 0, '--[[\n  Returns 1\n]]\nreturn 1', 'f'.repeat(40));
  const noReturns = script('noReturns', 2, '--[[\n  KEYS[1] a\n  KEYS[2] b\n  KEYS[3] c\n]]\nreturn 1');
  const broken = join(dir, 'broken');
  mkdirSync(join(broken, 'includes'), { recursive: true });
  writeFileSync(join(broken, 'unlisted-1.lua'), unlisted.lua);
  writeFileSync(join(broken, 'stray-0.lua'), 'return 1');
  writeFileSync(join(broken, 'includes', 'clock.lua'), "local t = redis.call('TIME')");
  expect(await luaScriptProblems(redis, [unlisted, wrongSha, noReturns], broken)).toEqual([
    'unlisted: uses ARGV[1], its header does not list it',
    `wrongSha: SCRIPT LOAD gave ${sha1(wrongSha.lua)}, the code calls ${'f'.repeat(40)}`,
    'noReturns: header lists more than 2 keys',
    'noReturns: header has no Returns line',
    `files of ${broken} [stray-0.lua, unlisted-1.lua] are not the scripts [noReturns-2.lua, unlisted-1.lua, wrongSha-0.lua]`,
    'clock.lua reads TIME itself',
  ]);
});
