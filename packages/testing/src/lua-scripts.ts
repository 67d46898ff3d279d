import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/** What {@link luaScriptProblems} reads of a script (the shape of `@platform/redis`'s `LuaScript`). */
export interface CheckedLuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  /** The source with its includes spliced in. */
  readonly lua: string;
  readonly sha: string;
}

/**
 * The conventions every package's Lua scripts keep, checked against a real Redis; returns one line
 * per problem (an empty list when all hold), so a test reads `expect(await luaScriptProblems(...)).toEqual([])`:
 * - `SCRIPT LOAD` of each script returns the sha the code calls it by;
 * - the `.lua` files of `luaDir` are exactly the scripts, each named `<name>-<numberOfKeys>.lua`;
 * - each header (the first `--[[ ... ]]` block) lists every `KEYS[i]` and `ARGV[i]` the script
 *   uses, lists `KEYS[1..numberOfKeys]` and no more, and has a `Returns` line;
 * - no file of `luaDir` or `luaDir/includes` reads `TIME` itself (the clock comes from the shared
 *   `nowMs`/`nowUs` includes).
 */
export async function luaScriptProblems(redis: Redis | Cluster, scripts: readonly CheckedLuaScript[], luaDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const script of scripts) {
    const sha = await redis.script('LOAD', script.lua);
    if (sha !== script.sha) problems.push(`${script.name}: SCRIPT LOAD gave ${String(sha)}, the code calls ${script.sha}`);
    const [header = '', ...rest] = script.lua.split(']]');
    const body = rest.join(']]');
    for (const [used] of body.matchAll(/(?:KEYS|ARGV)\[\d+\]/g)) {
      if (!header.includes(used)) problems.push(`${script.name}: uses ${used}, its header does not list it`);
    }
    for (let i = 1; i <= script.numberOfKeys; i++) {
      if (!header.includes(`KEYS[${i}]`)) problems.push(`${script.name}: header does not list KEYS[${i}]`);
    }
    if (header.includes(`KEYS[${script.numberOfKeys + 1}]`)) problems.push(`${script.name}: header lists more than ${script.numberOfKeys} keys`);
    if (!/Returns/.test(header)) problems.push(`${script.name}: header has no Returns line`);
  }
  const files = luaFiles(luaDir);
  const declared = scripts.map((s) => `${s.name}-${s.numberOfKeys}.lua`).sort();
  if (files.join() !== declared.join()) problems.push(`files of ${luaDir} [${files.join(', ')}] are not the scripts [${declared.join(', ')}]`);
  for (const dir of [luaDir, join(luaDir, 'includes')]) {
    for (const file of luaFiles(dir)) {
      if (readFileSync(join(dir, file), 'utf8').includes("'TIME'")) problems.push(`${file} reads TIME itself`);
    }
  }
  return problems;
}

function luaFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.lua')).sort();
  } catch {
    return [];
  }
}
