import { defineScript } from '@platform/redis';
import acquireLua from '../lua/poolAcquire-1.lua';

/** Takes a pool slot (see the file's header); refresh and release are the shared `leases` ones. */
export const poolAcquireScript = defineScript<number>({ name: 'poolAcquire', numberOfKeys: 1, lua: acquireLua });
