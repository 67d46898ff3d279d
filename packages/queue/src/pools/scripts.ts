import { defineScript } from '@platform/redis';
import acquireLua from '../lua/poolAcquire-1.lua';
import refreshLua from '../lua/poolRefresh-1.lua';

/** Takes a pool slot (see the file's header); a held slot is given back with one ZREM. */
export const poolAcquireScript = defineScript<number>({ name: 'poolAcquire', numberOfKeys: 1, lua: acquireLua });
/** Refreshes the live slots of many members of one pool (see the file's header). */
export const poolRefreshScript = defineScript<number>({ name: 'poolRefresh', numberOfKeys: 1, lua: refreshLua });
