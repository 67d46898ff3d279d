import { defineScript } from '@platform/redis';
import acquireLockLua from './lua/acquireLock-2.lua';
import extendLockLua from './lua/extendLock-1.lua';
import handOverLockLua from './lua/handOverLock-2.lua';
import issueFenceLua from './lua/includes/issueFence.lua';
import registerWaitersLua from './lua/registerWaiters-1.lua';
import releaseLockLua from './lua/releaseLock-2.lua';

/** Lua fragments shared by several scripts of this package (`--- @include "<name>"`; `nowMs`, `nowUs` and `leases` come with defineScript). */
const includes = { issueFence: issueFenceLua };

export const acquireLockScript = defineScript<number>({ name: 'acquireLock', numberOfKeys: 2, lua: acquireLockLua, includes });
export const releaseLockScript = defineScript<number>({ name: 'releaseLock', numberOfKeys: 2, lua: releaseLockLua });
export const handOverLockScript = defineScript<number>({ name: 'handOverLock', numberOfKeys: 2, lua: handOverLockLua, includes });
export const registerWaitersScript = defineScript<number>({ name: 'registerWaiters', numberOfKeys: 1, lua: registerWaitersLua });
export const extendLockScript = defineScript<number>({ name: 'extendLock', numberOfKeys: 1, lua: extendLockLua });

/** Every script of the package (for the SCRIPT LOAD test). */
export const allScripts = [
  acquireLockScript,
  releaseLockScript,
  handOverLockScript,
  registerWaitersScript,
  extendLockScript,
] as const;
