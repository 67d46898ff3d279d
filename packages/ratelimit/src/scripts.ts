import { defineScript, type LuaScript } from '@platform/redis';
import acquireLeaseLua from './lua/acquireLease-1.lua';
import countLeasesLua from './lua/countLeases-1.lua';
import extendLeaseLua from './lua/extendLease-1.lua';
import fixedWindowLua from './lua/fixedWindow-1.lua';
import fixedWindowPeekLua from './lua/fixedWindowPeek-1.lua';
import slidingWindowLua from './lua/slidingWindow-1.lua';
import slidingWindowPeekLua from './lua/slidingWindowPeek-1.lua';
import tokenBucketLua from './lua/tokenBucket-1.lua';
import tokenBucketPeekLua from './lua/tokenBucketPeek-1.lua';

/** Reply of every decision script: `[allowed (1|0), remaining, retryAfterMs, resetMs]`. */
export type DecisionReply = [number, number, number, number];

export const fixedWindow = defineScript<DecisionReply>({ name: 'fixedWindow', numberOfKeys: 1, lua: fixedWindowLua });
export const fixedWindowPeek = defineScript<DecisionReply>({ name: 'fixedWindowPeek', numberOfKeys: 1, lua: fixedWindowPeekLua });
export const slidingWindow = defineScript<DecisionReply>({ name: 'slidingWindow', numberOfKeys: 1, lua: slidingWindowLua });
export const slidingWindowPeek = defineScript<DecisionReply>({ name: 'slidingWindowPeek', numberOfKeys: 1, lua: slidingWindowPeekLua });
export const tokenBucket = defineScript<DecisionReply>({ name: 'tokenBucket', numberOfKeys: 1, lua: tokenBucketLua });
export const tokenBucketPeek = defineScript<DecisionReply>({ name: 'tokenBucketPeek', numberOfKeys: 1, lua: tokenBucketPeekLua });
/** Reply: `[acquired (1|0), inFlight, retryAfterMs, expiresInMs]`. */
export const acquireLease = defineScript<[number, number, number, number]>({ name: 'acquireLease', numberOfKeys: 1, lua: acquireLeaseLua });
export const extendLease = defineScript<number>({ name: 'extendLease', numberOfKeys: 1, lua: extendLeaseLua });
export const countLeases = defineScript<number>({ name: 'countLeases', numberOfKeys: 1, lua: countLeasesLua });

/** Every script of the package (for tests and for preloading with `SCRIPT LOAD`). */
export const ratelimitScripts: readonly LuaScript<unknown>[] = [
  fixedWindow,
  fixedWindowPeek,
  slidingWindow,
  slidingWindowPeek,
  tokenBucket,
  tokenBucketPeek,
  acquireLease,
  extendLease,
  countLeases,
];
