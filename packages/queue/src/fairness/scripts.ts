import { defineScript, type LuaScript, type ScriptClient } from '@platform/redis';
import acquireLua from '../lua/fairAcquire-3.lua';
import controlLua from '../lua/fairControl-6.lua';
import dispatchLua from '../lua/fairDispatch-16.lua';
import drainLua from '../lua/fairDrain-4.lua';
import enqueueLua from '../lua/fairEnqueue-13.lua';
import heartbeatLua from '../lua/fairHeartbeat-2.lua';
import refreshLua from '../lua/fairRefresh-1.lua';
import releaseLua from '../lua/fairRelease-4.lua';
import fairWindowLua from '../lua/includes/fairWindow.lua';
import releaseHeldLua from '../lua/includes/releaseHeld.lua';
import tenantSettingsLua from '../lua/includes/tenantSettings.lua';
import unblockTenantLua from '../lua/includes/unblockTenant.lua';

/** The fair scheduler's own Lua fragments (see each file's header). */
const includes = { tenantSettings: tenantSettingsLua, fairWindow: fairWindowLua, unblockTenant: unblockTenantLua, releaseHeld: releaseHeldLua };

/**
 * The fair-scheduling scripts (see each file's header). `enqueue`, `dispatch` and `drain` take a
 * fixed set of keys (their file name's count) followed by per-tenant keys: call them with
 * {@link runWithTenantKeys}.
 */
export const fairScripts = {
  enqueue: defineScript<Array<string | number | string[]>>({ name: 'fairEnqueue', numberOfKeys: 13, lua: enqueueLua, includes }),
  dispatch: defineScript<[number, string[], number]>({ name: 'fairDispatch', numberOfKeys: 16, lua: dispatchLua, includes }),
  drain: defineScript<number>({ name: 'fairDrain', numberOfKeys: 4, lua: drainLua }),
  acquire: defineScript<[number, number]>({ name: 'fairAcquire', numberOfKeys: 3, lua: acquireLua, includes }),
  refresh: defineScript<number>({ name: 'fairRefresh', numberOfKeys: 1, lua: refreshLua }),
  release: defineScript<number>({ name: 'fairRelease', numberOfKeys: 4, lua: releaseLua }),
  control: defineScript<[string, string, string]>({ name: 'fairControl', numberOfKeys: 6, lua: controlLua, includes }),
  heartbeat: defineScript<[number, number]>({ name: 'fairHeartbeat', numberOfKeys: 2, lua: heartbeatLua }),
} as const;

/**
 * Runs a script whose fixed keys (`script.numberOfKeys`) are followed by per-tenant keys, all
 * declared in KEYS (so it runs on a cluster when they share the queue's hash tag), through
 * `LuaScript.runWithKeyCount`.
 */
export async function runWithTenantKeys<T>(
  script: LuaScript<T>,
  client: ScriptClient,
  fixedKeys: readonly string[],
  tenantKeys: readonly string[],
  args: readonly (string | number)[],
): Promise<T> {
  if (fixedKeys.length !== script.numberOfKeys) {
    throw new TypeError(`script ${script.name} takes ${script.numberOfKeys} fixed keys, got ${fixedKeys.length}`);
  }
  return script.runWithKeyCount(client, fixedKeys.length + tenantKeys.length, [...fixedKeys, ...tenantKeys, ...args]);
}
