import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { allScripts } from './scripts';

const redis = new Redis(process.env.REDIS_URL!);

afterAll(async () => {
  await redis.quit();
});

describe('Lua scripts', () => {
  it('SCRIPT LOAD of each script returns the sha the code calls it by', async () => {
    for (const script of allScripts) {
      const sha = await redis.script('LOAD', script.lua);
      expect({ name: script.name, sha }).toEqual({ name: script.name, sha: script.sha });
    }
  });

  it('every file in lua/ is a defined script whose numberOfKeys matches its <name>-<keys>.lua name', () => {
    const files = readdirSync(join(__dirname, 'lua')).filter((f) => f.endsWith('.lua')).sort();
    const expected = allScripts.map((s) => `${s.name}-${s.numberOfKeys}.lua`).sort();
    expect(files).toEqual(expected);
  });

  it('every script header lists each KEYS[i] and ARGV[i] the script uses', () => {
    for (const script of allScripts) {
      const [header, ...rest] = script.lua.split(']]');
      const body = rest.join(']]');
      for (const match of body.matchAll(/(KEYS|ARGV)\[(\d+)\]/g)) {
        expect(header).toContain(`${match[1]}[${match[2]}]`);
      }
      for (let i = 1; i <= script.numberOfKeys; i++) expect(header).toContain(`KEYS[${i}]`);
      expect(header).not.toContain(`KEYS[${script.numberOfKeys + 1}]`);
    }
  });

  it('no script reads TIME itself: the clock comes from the shared nowMs/nowUs includes', () => {
    for (const dir of ['lua', 'lua/includes']) {
      for (const file of readdirSync(join(__dirname, dir)).filter((f) => f.endsWith('.lua'))) {
        const source = readFileSync(join(__dirname, dir, file), 'utf8');
        expect({ file, readsTime: source.includes("'TIME'") }).toEqual({ file, readsTime: false });
      }
    }
  });
});
