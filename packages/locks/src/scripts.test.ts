import { join } from 'node:path';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { luaScriptProblems } from '@platform/testing';
import { allScripts } from './scripts';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });

afterAll(async () => {
  await redis.quit();
});

test('the Lua scripts keep the conventions: loaded sha, <name>-<keys>.lua files, headers listing KEYS/ARGV and Returns, no TIME of their own', async () => {
  expect(await luaScriptProblems(redis, allScripts, join(__dirname, 'lua'))).toEqual([]);
});
