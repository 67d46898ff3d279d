import { defineScript } from '@platform/redis';
import { createScriptBatcher } from '@platform/redis/internal';
import claimLua from './lua/claimNotification-4.lua';
import claimBatchLua from './lua/claimNotificationBatch-0.lua';
import claimIncludeLua from './lua/includes/claimNotification.lua';
import releaseLua from './lua/releaseNotification-4.lua';
import pushWebLua from './lua/pushWebNotification-3.lua';
import circuitAllowLua from './lua/circuitAllow-1.lua';
import circuitSuccessLua from './lua/circuitSuccess-1.lua';
import circuitFailureLua from './lua/circuitFailure-1.lua';
import setStatusLua from './lua/setNotificationStatus-1.lua';
import addDigestLua from './lua/addDigestItem-1.lua';
import takeDigestLua from './lua/takeDigestBatch-1.lua';
import finishDigestLua from './lua/finishDigestBatch-1.lua';

/**
 * `[code, jobId, nowMs]`, nowMs the Redis time of the claim: `[1, jobId, nowMs]` claimed;
 * `[0, jobId | '', nowMs]` held by a twin; `[2, '', nowMs]` call again with ids from nowMs;
 * `[3, jobId, nowMs]` a stale claim names another job (or, on a cluster, any job) to check in its
 * queue first (see the script).
 */
export type ClaimReply = [0 | 1 | 2 | 3, string, number];

/** Claims a dedupe key for the whole window, naming its job; takes over a dead claimer's claim. */
export const claimNotificationScript = defineScript<ClaimReply>({ name: 'claimNotification', numberOfKeys: 4, lua: claimLua, includes: { claimNotification: claimIncludeLua } });

/**
 * The batch twin of {@link claimNotificationScript} (see `claimNotificationBatch-0.lua`): the same
 * function per call, one `TIME` per batch, the values every call of a batch shares (fair backlog
 * key, window, pending time, cluster flag) sent once, a flat reply of three elements per call.
 */
export const claimNotificationBatchScript = defineScript<unknown>({ name: 'claimNotificationBatch', numberOfKeys: 0, lua: claimBatchLua, includes: { claimNotification: claimIncludeLua } });

/**
 * `claimNotificationScript`, with the claims of one event-loop turn on one standalone client sent
 * as one script call (see `createScriptBatcher`): under load, one round trip and one socket write
 * for many notifyOnce calls.
 */
export const claimNotificationBatched = createScriptBatcher(claimNotificationScript, claimNotificationBatchScript, {
  replyWidth: 3,
  // KEYS[4] the fair backlog's jobs hash; ARGV[1] window, ARGV[2] pending time, ARGV[6] cluster flag.
  shared: { keys: [3], args: [0, 1, 5] },
});

/** Gives a claim back after a failed enqueue (keeps it, marked, when the job is there after all). */
export const releaseNotificationScript = defineScript<number>({ name: 'releaseNotification', numberOfKeys: 4, lua: releaseLua });

/** Stores an in-app notification in the user's bounded list (once per id) and publishes it. */
export const pushWebNotificationScript = defineScript<number>({ name: 'pushWebNotification', numberOfKeys: 3, lua: pushWebLua });

/** Circuit breaker: may the caller call the provider now (closed, probe) or must it hold the job. */
export const circuitAllowScript = defineScript<[number, number]>({ name: 'circuitAllow', numberOfKeys: 1, lua: circuitAllowLua });

/** Circuit breaker: the provider answered; close. */
export const circuitSuccessScript = defineScript<number>({ name: 'circuitSuccess', numberOfKeys: 1, lua: circuitSuccessLua });

/** Circuit breaker: a retryable failure; open after the threshold, or again after a failed probe. */
export const circuitFailureScript = defineScript<[number, number]>({ name: 'circuitFailure', numberOfKeys: 1, lua: circuitFailureLua });

/** Writes a notification's delivery status (creating it with a TTL, or updating it keeping its TTL). */
export const setNotificationStatusScript = defineScript<number>({ name: 'setNotificationStatus', numberOfKeys: 1, lua: setStatusLua });

/** Adds an item to a digest's pending batch (once per item key). */
export const addDigestItemScript = defineScript<[number, number, number, number, number]>({ name: 'addDigestItem', numberOfKeys: 1, lua: addDigestLua });

/** Takes a digest batch for sending once it is due (or returns the items taken before). */
export const takeDigestBatchScript = defineScript<(number | string)[]>({ name: 'takeDigestBatch', numberOfKeys: 1, lua: takeDigestLua });

/** Forgets a sent digest batch. */
export const finishDigestBatchScript = defineScript<number>({ name: 'finishDigestBatch', numberOfKeys: 1, lua: finishDigestLua });

/** Every script of this package (for the script test). */
export const notificationScripts = [
  claimNotificationScript,
  claimNotificationBatchScript,
  releaseNotificationScript,
  pushWebNotificationScript,
  circuitAllowScript,
  circuitSuccessScript,
  circuitFailureScript,
  setNotificationStatusScript,
  addDigestItemScript,
  takeDigestBatchScript,
  finishDigestBatchScript,
] as const;
