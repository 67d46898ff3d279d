import { defineScript } from '@platform/redis';
import acquireLua from '../lua/fairAcquire-2.lua';
import confirmLua from '../lua/fairConfirm-2.lua';
import dispatchLua from '../lua/fairDispatch-11.lua';
import drainLua from '../lua/fairDrain-8.lua';
import enqueueLua from '../lua/fairEnqueue-12.lua';
import refreshLua from '../lua/fairRefresh-1.lua';
import releaseLua from '../lua/fairRelease-4.lua';

/** The fair-scheduling scripts (see each file's header). */
export const fairScripts = {
  enqueue: defineScript<Array<string | number>>({ name: 'fairEnqueue', numberOfKeys: 12, lua: enqueueLua }),
  dispatch: defineScript<string[]>({ name: 'fairDispatch', numberOfKeys: 11, lua: dispatchLua }),
  drain: defineScript<number>({ name: 'fairDrain', numberOfKeys: 8, lua: drainLua }),
  confirm: defineScript<number>({ name: 'fairConfirm', numberOfKeys: 2, lua: confirmLua }),
  acquire: defineScript<number>({ name: 'fairAcquire', numberOfKeys: 2, lua: acquireLua }),
  refresh: defineScript<number>({ name: 'fairRefresh', numberOfKeys: 1, lua: refreshLua }),
  release: defineScript<number>({ name: 'fairRelease', numberOfKeys: 4, lua: releaseLua }),
} as const;
