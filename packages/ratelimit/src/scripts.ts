import { defineScript, type LuaScript } from '@platform/redis';
import fixedWindowLua from './lua/fixedWindow-1.lua';
import fixedWindowPeekLua from './lua/fixedWindowPeek-1.lua';
import resetKeyLua from './lua/resetKey-1.lua';
import slidingLogLua from './lua/slidingLog-1.lua';
import slidingLogPeekLua from './lua/slidingLogPeek-1.lua';
import slidingWindowLua from './lua/slidingWindow-1.lua';
import slidingWindowPeekLua from './lua/slidingWindowPeek-1.lua';
import tokenBucketLua from './lua/tokenBucket-1.lua';
import tokenBucketPeekLua from './lua/tokenBucketPeek-1.lua';
import fixedWindowBatchLua from './lua/fixedWindowBatch-0.lua';
import slidingLogBatchLua from './lua/slidingLogBatch-0.lua';
import slidingWindowBatchLua from './lua/slidingWindowBatch-0.lua';
import tokenBucketBatchLua from './lua/tokenBucketBatch-0.lua';
import fixedWindowNodeBatchLua from './lua/fixedWindowNodeBatch-1.lua';
import slidingLogNodeBatchLua from './lua/slidingLogNodeBatch-1.lua';
import slidingWindowNodeBatchLua from './lua/slidingWindowNodeBatch-1.lua';
import tokenBucketNodeBatchLua from './lua/tokenBucketNodeBatch-1.lua';
import decideEachLua from './lua/includes/decideEach.lua';
import nodeBatchKeysLua from './lua/includes/nodeBatchKeys.lua';
import fixedWindowDecideLua from './lua/includes/fixedWindowDecide.lua';
import slidingLogDecideLua from './lua/includes/slidingLogDecide.lua';
import slidingWindowCounterLua from './lua/includes/slidingWindowCounter.lua';
import slidingWindowDecideLua from './lua/includes/slidingWindowDecide.lua';
import tokenBucketDecideLua from './lua/includes/tokenBucketDecide.lua';
import type { RateLimitAlgorithm } from './options';

/** Reply of every decision script: `[allowed (1|0), remaining, retryAfterMs, resetMs]`. */
export type DecisionReply = [number, number, number, number];

/** Package-local Lua includes (`--- @include "name"`). */
const includes = {
  slidingWindowCounter: slidingWindowCounterLua,
  fixedWindowDecide: fixedWindowDecideLua,
  slidingWindowDecide: slidingWindowDecideLua,
  slidingLogDecide: slidingLogDecideLua,
  tokenBucketDecide: tokenBucketDecideLua,
  decideEach: decideEachLua,
  nodeBatchKeys: nodeBatchKeysLua,
};

/**
 * Reply of a batch script: per decision, in order, a {@link DecisionReply} flattened, or
 * `[-1, errorMessage, 0, 0]` for a key that holds another type.
 */
export type BatchReply = Array<number | string>;

const script = (name: string, lua: string) => defineScript<DecisionReply>({ name, numberOfKeys: 1, lua, includes });

// A batch script's keys are all of its call's keys: `numberOfKeys` 0, the caller passes their count.
const batch = (name: string, lua: string) => defineScript<BatchReply>({ name, numberOfKeys: 0, lua, includes });

// A node batch (Redis Cluster) is routed by its first decision's key; the keys come as arguments.
const nodeBatch = (name: string, lua: string) => defineScript<BatchReply>({ name, numberOfKeys: 1, lua, includes });

/** The scripts of one algorithm. */
export interface AlgorithmScripts {
  /** One decision. */
  decide: LuaScript<DecisionReply>;
  /** `decide`'s read-only twin, for `peek`. */
  peek: LuaScript<DecisionReply>;
  /** Many decisions in one call, all keys declared (a standalone or Sentinel Redis). */
  batch: LuaScript<BatchReply>;
  /** Many decisions in one call on one Redis Cluster master, keys of several slots (Redis 7+). */
  nodeBatch: LuaScript<BatchReply>;
}

/** The decision script of each algorithm and its twins (see {@link AlgorithmScripts}). */
export const decisionScripts: Readonly<Record<RateLimitAlgorithm, AlgorithmScripts>> = {
  'fixed-window': {
    decide: script('fixedWindow', fixedWindowLua),
    peek: script('fixedWindowPeek', fixedWindowPeekLua),
    batch: batch('fixedWindowBatch', fixedWindowBatchLua),
    nodeBatch: nodeBatch('fixedWindowNodeBatch', fixedWindowNodeBatchLua),
  },
  'sliding-window': {
    decide: script('slidingWindow', slidingWindowLua),
    peek: script('slidingWindowPeek', slidingWindowPeekLua),
    batch: batch('slidingWindowBatch', slidingWindowBatchLua),
    nodeBatch: nodeBatch('slidingWindowNodeBatch', slidingWindowNodeBatchLua),
  },
  'sliding-log': {
    decide: script('slidingLog', slidingLogLua),
    peek: script('slidingLogPeek', slidingLogPeekLua),
    batch: batch('slidingLogBatch', slidingLogBatchLua),
    nodeBatch: nodeBatch('slidingLogNodeBatch', slidingLogNodeBatchLua),
  },
  'token-bucket': {
    decide: script('tokenBucket', tokenBucketLua),
    peek: script('tokenBucketPeek', tokenBucketPeekLua),
    batch: batch('tokenBucketBatch', tokenBucketBatchLua),
    nodeBatch: nodeBatch('tokenBucketNodeBatch', tokenBucketNodeBatchLua),
  },
};

/** `reset` of both limiter kinds: deletes the key (1 if it existed). */
export const resetKeyScript = defineScript<number>({ name: 'resetKey', numberOfKeys: 1, lua: resetKeyLua });

/** Every script of the package (for the SCRIPT LOAD and header tests). */
export const ratelimitScripts: readonly LuaScript<unknown>[] = [
  ...Object.values(decisionScripts).flatMap(({ decide, peek, batch, nodeBatch }) => [decide, peek, batch, nodeBatch]),
  resetKeyScript,
];
