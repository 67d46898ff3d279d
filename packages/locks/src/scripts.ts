import { defineScript } from '@platform/redis';
import acquireLockLua from './lua/acquireLock-2.lua';
import acquireSemaphoreLua from './lua/acquireSemaphore-1.lua';
import extendLockLua from './lua/extendLock-1.lua';
import extendSemaphoreLua from './lua/extendSemaphore-1.lua';
import releaseLockLua from './lua/releaseLock-2.lua';
import releaseSemaphoreLua from './lua/releaseSemaphore-1.lua';

export const acquireLockScript = defineScript<number>({ name: 'acquireLock', numberOfKeys: 2, lua: acquireLockLua });
export const releaseLockScript = defineScript<number>({ name: 'releaseLock', numberOfKeys: 2, lua: releaseLockLua });
export const extendLockScript = defineScript<number>({ name: 'extendLock', numberOfKeys: 1, lua: extendLockLua });
export const acquireSemaphoreScript = defineScript<number>({
  name: 'acquireSemaphore',
  numberOfKeys: 1,
  lua: acquireSemaphoreLua,
});
export const releaseSemaphoreScript = defineScript<number>({
  name: 'releaseSemaphore',
  numberOfKeys: 1,
  lua: releaseSemaphoreLua,
});
export const extendSemaphoreScript = defineScript<number>({
  name: 'extendSemaphore',
  numberOfKeys: 1,
  lua: extendSemaphoreLua,
});

/** Every script of the package (for the SCRIPT LOAD test). */
export const allScripts = [
  acquireLockScript,
  releaseLockScript,
  extendLockScript,
  acquireSemaphoreScript,
  releaseSemaphoreScript,
  extendSemaphoreScript,
] as const;
