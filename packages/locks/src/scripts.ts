import { defineScript } from '@platform/redis';
import { createScriptBatcher } from '@platform/redis/internal';
import acquireLockBatchLua from './lua/acquireLockBatch-0.lua';
import acquireLockLua from './lua/acquireLock-2.lua';
import extendLockLua from './lua/extendLock-1.lua';
import handOverLockLua from './lua/handOverLock-2.lua';
import acquireLockIncludeLua from './lua/includes/acquireLock.lua';
import issueFenceLua from './lua/includes/issueFence.lua';
import releaseLockIncludeLua from './lua/includes/releaseLock.lua';
import registerWaitersLua from './lua/registerWaiters-1.lua';
import releaseLockLua from './lua/releaseLock-2.lua';
import releaseLockBatchLua from './lua/releaseLockBatch-0.lua';

/** Lua fragments shared by several scripts of this package (`--- @include "<name>"`; `nowMs`, `nowUs` and `leases` come with defineScript). */
const includes = { issueFence: issueFenceLua, acquireLock: acquireLockIncludeLua, releaseLock: releaseLockIncludeLua };

export const acquireLockScript = defineScript<number>({ name: 'acquireLock', numberOfKeys: 2, lua: acquireLockLua, includes });
export const releaseLockScript = defineScript<number>({ name: 'releaseLock', numberOfKeys: 2, lua: releaseLockLua, includes });
export const handOverLockScript = defineScript<number>({ name: 'handOverLock', numberOfKeys: 2, lua: handOverLockLua, includes });
export const registerWaitersScript = defineScript<number>({ name: 'registerWaiters', numberOfKeys: 1, lua: registerWaitersLua });
export const extendLockScript = defineScript<number>({ name: 'extendLock', numberOfKeys: 1, lua: extendLockLua });

const acquireLockBatchScript = defineScript<unknown>({ name: 'acquireLockBatch', numberOfKeys: 0, lua: acquireLockBatchLua, includes });
const releaseLockBatchScript = defineScript<unknown>({ name: 'releaseLockBatch', numberOfKeys: 0, lua: releaseLockBatchLua, includes });

/**
 * `acquireLockScript`, with the acquisitions of one event-loop turn on one standalone client sent
 * as one script call (see `createScriptBatcher`).
 */
export const acquireLockBatched = createScriptBatcher(acquireLockScript, acquireLockBatchScript);
/** `releaseLockScript`, batched per event-loop turn like {@link acquireLockBatched}. */
export const releaseLockBatched = createScriptBatcher(releaseLockScript, releaseLockBatchScript);

/** Every script of the package (for the SCRIPT LOAD test). */
export const allScripts = [
  acquireLockScript,
  releaseLockScript,
  handOverLockScript,
  registerWaitersScript,
  extendLockScript,
  acquireLockBatchScript,
  releaseLockBatchScript,
] as const;
