import { createHash } from 'node:crypto';
import eachCallLua from './lua/includes/eachCall.lua';
import leasesLua from './lua/includes/leases.lua';
import nowMsLua from './lua/includes/nowMs.lua';
import nowUsLua from './lua/includes/nowUs.lua';
import type { ScriptClient } from './client';
import { untilFirstReady } from './ready';

export type { ScriptClient } from './client';

/** A Lua script loaded once per server and called by SHA. See {@link defineScript}. */
export interface LuaScript<TResult> {
  /** The script's name, used in errors and tests. */
  readonly name: string;
  /** How many of the arguments are keys. */
  readonly numberOfKeys: number;
  /** The SHA1 that `SCRIPT LOAD` returns for this script. */
  readonly sha: string;
  /** The Lua source, with its includes spliced in (what the server runs). */
  readonly lua: string;
  /**
   * Runs the script: EVALSHA, and on `NOSCRIPT` (first call on a server, or after a restart or
   * `SCRIPT FLUSH`) EVAL once, which also caches it. One round trip in the steady state. Called
   * before a client without an offline queue is first ready, it waits for `ready` (at most the
   * client's connect timeout) instead of being refused.
   */
  run(client: ScriptClient, keys: readonly string[], args: readonly (string | number)[]): Promise<TResult>;
  /**
   * Runs the script with the first `numberOfKeys` of `params` as its keys, for scripts whose key
   * count varies per call (batch scripts, per-tenant keys): EVALSHA, and EVAL once on `NOSCRIPT`,
   * as {@link LuaScript.run}, but without its key-count check and without waiting for a first
   * `ready` (a caller on a hot path checks the client's state itself). No `async` frame.
   */
  runWithKeyCount(client: ScriptClient, numberOfKeys: number, params: readonly (string | number)[]): Promise<TResult>;
}

/** True for Redis's answer to an EVALSHA of a script it does not have cached. */
function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Definition of a Lua script for {@link defineScript}. */
export interface ScriptSource {
  /** camelCase name matching the file `<name>-<numberOfKeys>.lua`. */
  name: string;
  /** How many leading arguments are keys. */
  numberOfKeys: number;
  /** The Lua source (import the `.lua` file next to the caller). */
  lua: string;
  /**
   * The script's own Lua fragments by name, besides the shared ones every script may include
   * (see {@link defineScript}). A line `--- @include "<name>"` in `lua` is replaced by the fragment
   * (typically a `local function`), so a block used by several scripts lives once. A name may not
   * repeat a shared one. @defaultValue `{}`
   */
  includes?: Readonly<Record<string, string>>;
}

/**
 * The fragments every script may include: `nowMs` and `nowUs` (the Redis clock from `TIME`),
 * `leases` (expiring leases in a sorted set: take, refresh, release, count; see its header) and
 * `eachCall` (the loop of a batch script, see `createScriptBatcher` in `@platform/redis/internal`).
 */
const SHARED_INCLUDES: Readonly<Record<string, string>> = { nowMs: nowMsLua, nowUs: nowUsLua, leases: leasesLua, eachCall: eachCallLua };

const INCLUDE_LINE = /^--- @include "([^"]*)"[ \t]*$/gm;

/** `lua` with every `--- @include "<name>"` line replaced by its fragment; throws for an unknown name. */
function spliceIncludes(name: string, lua: string, includes: Readonly<Record<string, string>>): string {
  for (const include of Object.keys(includes)) {
    if (Object.hasOwn(SHARED_INCLUDES, include)) throw new TypeError(`script ${name} redefines the shared include "${include}"`);
  }
  return lua.replace(INCLUDE_LINE, (_line, include: string) => {
    const fragment = Object.hasOwn(includes, include)
      ? includes[include]
      : Object.hasOwn(SHARED_INCLUDES, include)
        ? SHARED_INCLUDES[include]
        : undefined;
    if (fragment === undefined) throw new TypeError(`script ${name} includes "${include}", which is neither shared nor given`);
    return fragment.trimEnd();
  });
}

/**
 * Defines a Lua script that is called by SHA and loaded on demand. Scripts are plain `.lua`
 * files named `<camelName>-<numKeys>.lua`, imported as text; fragments are spliced in with
 * `--- @include "<name>"` lines: the shared `nowMs`, `nowUs`, `leases` and `eachCall`, or the script's own
 * (see {@link ScriptSource.includes}). The SHA is that of the result.
 *
 * @example
 * import acquireLua from './lua/acquireLock-2.lua';
 * const acquire = defineScript<number>({ name: 'acquireLock', numberOfKeys: 2, lua: acquireLua });
 * const fence = await acquire.run(redis, [lockKey, fenceKey], [token, ttlMs]);
 */
export function defineScript<TResult>(source: ScriptSource): LuaScript<TResult> {
  const { name, numberOfKeys } = source;
  const lua = spliceIncludes(name, source.lua, source.includes ?? {});
  const sha = createHash('sha1').update(lua).digest('hex');
  const runWithKeyCount = (client: ScriptClient, keyCount: number, params: readonly (string | number)[]): Promise<TResult> =>
    (client.evalsha(sha, keyCount, ...params) as Promise<TResult>).then(undefined, (error: unknown) => {
      if (!isNoScriptError(error)) throw error;
      return client.eval(lua, keyCount, ...params) as Promise<TResult>;
    });
  return {
    name,
    numberOfKeys,
    sha,
    lua,
    async run(client, keys, args) {
      if (keys.length !== numberOfKeys) {
        throw new TypeError(`script ${name} takes ${numberOfKeys} keys, got ${keys.length}`);
      }
      // A fail-fast client (no offline queue) would refuse a call made before its first `ready`.
      const ready = untilFirstReady(client);
      if (ready) await ready;
      return runWithKeyCount(client, numberOfKeys, keys.length === 0 ? args : [...keys, ...args]);
    },
    runWithKeyCount,
  };
}
