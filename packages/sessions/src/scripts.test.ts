import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sessionScripts } from './scripts';

const redis = new Redis(process.env.REDIS_URL!);

afterAll(async () => {
  await redis.quit();
});

describe('Lua scripts', () => {
  it('SCRIPT LOAD of each script returns the sha the code calls it by', async () => {
    for (const script of sessionScripts) {
      expect({ name: script.name, sha: await redis.script('LOAD', script.lua) }).toEqual({ name: script.name, sha: script.sha });
    }
  });

  it('every file in lua/ is a defined script whose numberOfKeys matches its <name>-<keys>.lua name', () => {
    const files = readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua')).sort();
    expect(sessionScripts.map((s) => `${s.name}-${s.numberOfKeys}.lua`).sort()).toEqual(files);
  });

  it('every script header lists each KEYS[i] and ARGV[i] the script uses, and a Returns line', () => {
    for (const script of sessionScripts) {
      const [header, ...rest] = script.lua.split(']]');
      const body = rest.join(']]');
      for (const match of body.matchAll(/(KEYS|ARGV)\[(\d+)\]/g)) {
        expect({ name: script.name, listed: header!.includes(`${match[1]}[${match[2]}]`) }).toEqual({ name: script.name, listed: true });
      }
      for (let i = 1; i <= script.numberOfKeys; i++) expect(header).toContain(`KEYS[${i}]`);
      expect(header).not.toContain(`KEYS[${script.numberOfKeys + 1}]`);
      expect(header).toMatch(/Returns/);
    }
  });

  it('no script reads TIME itself: the clock comes from the shared nowMs include', () => {
    for (const file of readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua'))) {
      const source = readFileSync(join(__dirname, 'lua', file), 'utf8');
      expect({ file, readsTime: source.includes("'TIME'") }).toEqual({ file, readsTime: false });
    }
  });
});
