import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { ratelimitScripts } from './scripts';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });

afterAll(async () => {
  await redis.quit();
});

describe('Lua scripts', () => {
  it('SCRIPT LOAD of each script returns the sha the code calls', async () => {
    for (const script of ratelimitScripts) {
      expect({ name: script.name, sha: await redis.script('LOAD', script.lua) }).toEqual({ name: script.name, sha: script.sha });
    }
  });

  it('every file in lua/ is a script whose numberOfKeys matches its file name', () => {
    const files = readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua')).sort();
    const declared = ratelimitScripts.map((s) => `${s.name}-${s.numberOfKeys}.lua`).sort();
    expect(declared).toEqual(files);
    for (const script of ratelimitScripts) {
      // The header lists exactly KEYS[1..numberOfKeys].
      const keys = new Set(script.lua.match(/KEYS\[\d+\]/g));
      expect({ name: script.name, keys: [...keys].sort() }).toEqual({
        name: script.name,
        keys: Array.from({ length: script.numberOfKeys }, (_, i) => `KEYS[${i + 1}]`),
      });
    }
  });

  it('no script reads TIME itself: the clock comes from the shared nowUs include', () => {
    for (const file of readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua'))) {
      const source = readFileSync(join(__dirname, 'lua', file), 'utf8');
      expect({ file, readsTime: source.includes("'TIME'") }).toEqual({ file, readsTime: false });
    }
  });
});
