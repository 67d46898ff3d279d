import { defineScript, type LuaScript } from '@platform/redis';
import fixedWindowLua from './lua/fixedWindow-1.lua';
import fixedWindowBatchLua from './lua/fixedWindowBatch-0.lua';
import fixedWindowPeekLua from './lua/fixedWindowPeek-1.lua';
import resetKeyLua from './lua/resetKey-1.lua';
import slidingLogLua from './lua/slidingLog-1.lua';
import slidingLogPeekLua from './lua/slidingLogPeek-1.lua';
import slidingWindowLua from './lua/slidingWindow-1.lua';
import slidingWindowPeekLua from './lua/slidingWindowPeek-1.lua';
import tokenBucketLua from './lua/tokenBucket-1.lua';
import tokenBucketPeekLua from './lua/tokenBucketPeek-1.lua';
import slidingWindowCounterLua from './lua/includes/slidingWindowCounter.lua';
import type { RateLimitAlgorithm } from './options';

/** Reply of every decision script: `[allowed (1|0), remaining, retryAfterMs, resetMs]`. */
export type DecisionReply = [number, number, number, number];

/** Package-local Lua includes (`--- @include "name"`). */
const includes = { slidingWindowCounter: slidingWindowCounterLua };

const script = (name: string, lua: string) => defineScript<DecisionReply>({ name, numberOfKeys: 1, lua, includes });

/** The decision script of each algorithm, and its read-only twin for `peek`. */
export const decisionScripts: Readonly<Record<RateLimitAlgorithm, { decide: LuaScript<DecisionReply>; peek: LuaScript<DecisionReply> }>> = {
  'fixed-window': { decide: script('fixedWindow', fixedWindowLua), peek: script('fixedWindowPeek', fixedWindowPeekLua) },
  'sliding-window': { decide: script('slidingWindow', slidingWindowLua), peek: script('slidingWindowPeek', slidingWindowPeekLua) },
  'sliding-log': { decide: script('slidingLog', slidingLogLua), peek: script('slidingLogPeek', slidingLogPeekLua) },
  'token-bucket': { decide: script('tokenBucket', tokenBucketLua), peek: script('tokenBucketPeek', tokenBucketPeekLua) },
};

/**
 * Many fixed-window decisions in one call: the counters are all of the call's keys (so
 * `numberOfKeys` is 0 here and the caller passes their count); replies are flattened
 * {@link DecisionReply}s, with `[-1, errorMessage, 0, 0]` for a counter that holds another type.
 */
export const fixedWindowBatchScript = defineScript<Array<number | string>>({ name: 'fixedWindowBatch', numberOfKeys: 0, lua: fixedWindowBatchLua });

/** `reset` of both limiter kinds: deletes the key (1 if it existed). */
export const resetKeyScript = defineScript<number>({ name: 'resetKey', numberOfKeys: 1, lua: resetKeyLua });

/** Every script of the package (for the SCRIPT LOAD and header tests). */
export const ratelimitScripts: readonly LuaScript<unknown>[] = [
  ...Object.values(decisionScripts).flatMap(({ decide, peek }) => [decide, peek]),
  fixedWindowBatchScript,
  resetKeyScript,
];
