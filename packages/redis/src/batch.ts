import { ReplyError } from 'ioredis';
import type { ScriptClient } from './client';
import type { LuaScript } from './scripts';

/** Most calls sent in one batch script call; more calls of one turn go in several. */
const MAX_BATCH_CALLS = 128;

/**
 * Runs a script like {@link LuaScript.run}, but the calls made in one event-loop turn on one client
 * go to Redis as one call of a batch script (one round trip, one script invocation) instead of one
 * each. See {@link createScriptBatcher}.
 */
export interface ScriptBatcher<TResult> {
  /**
   * Same contract as `single.run(client, keys, args)`: resolves to the single script's reply for
   * this call, or rejects with the error that call alone would have met (a Redis error inside one
   * call fails only that call; a lost connection fails every call of its batch).
   */
  run(client: ScriptClient, keys: readonly string[], args: readonly (string | number)[]): Promise<TResult>;
}

interface QueuedCall<TResult> {
  keys: readonly string[];
  args: readonly (string | number)[];
  resolve(value: TResult): void;
  reject(error: unknown): void;
}

/** Options of {@link createScriptBatcher}. */
export interface ScriptBatcherOptions {
  /**
   * The batch script's reply is flat: per call `1 + replyWidth` elements, `1` then the
   * `replyWidth` elements of the single script's reply (an array of exactly that length), or `0`,
   * the error message and `replyWidth - 1` fillers. A batch script that builds no table per call
   * (its function returns the reply's elements as values) answers this way. Each call resolves to
   * its elements as an array, as the single script's reply.
   * @defaultValue `undefined`: per call `1, reply` or `0, error message` (the shared include `eachCall`)
   */
  replyWidth?: number;
  /**
   * The single script's keys and arguments that are the same for every call of a batch, by
   * position (0-based, in the order the batch script reads them): a batch sends them once
   * instead of once per call. The calls of one turn are grouped by these values (`===`), so only
   * calls with equal ones share a batch; each group goes in call order, groups in the order of
   * their first call (calls of different groups are not ordered among themselves, as calls on
   * separate connections would not be).
   *
   * The batch script then gets in `KEYS` the shared keys, then every call's other keys in turn;
   * `ARGV[1]` = other keys per call, `ARGV[2]` = other arguments per call, `ARGV[3]` = shared
   * keys, `ARGV[4]` = shared arguments (counts), then the shared arguments, then every call's
   * other arguments in turn. (`eachCall` reads the layout without shared values: a batch script
   * using this option is a loop of its own.)
   * @defaultValue `undefined`: nothing shared; `ARGV[1]`, `ARGV[2]`, then every call's arguments
   */
  shared?: { readonly keys?: readonly number[]; readonly args?: readonly number[] };
}

/** What the batcher reads of a client: whether it is a ready standalone/Sentinel client. */
interface BatchableClient {
  status?: string;
  isCluster?: boolean;
}

/** ioredis's class of Redis error replies (typed `any` by ioredis): a failed call rejects as it would alone. */
const RedisReplyError = ReplyError as new (message: string) => Error;

/**
 * A batcher for `single`, a script taking `single.numberOfKeys` keys and a fixed number of
 * arguments. `batch` is its twin for many calls: a script whose body is
 * `return eachCall(fn)` (the shared include `eachCall`) where `fn(keys, argv)` is the single
 * script's body as a function, so both run the same Lua. The batch script gets every call's keys in
 * `KEYS`, in order, `ARGV[1]` = keys per call, `ARGV[2]` = arguments per call, then every call's
 * arguments, and replies `{1, reply}` or `{0, error message}` per call, flattened.
 *
 * Calls are queued and sent on `process.nextTick`: a lone call goes through `single.run` (no
 * batching cost at low load), two or more go in one batch script call (at most 128 per call). Not
 * batched, each call sent on its own as `single.run` would: a Redis Cluster client (a batch's keys
 * would span slots), and a client that is not `ready` (its first-ready wait and offline queue stay
 * as they are).
 *
 * Atomicity is per call, as with the single script: each call's function runs to completion before
 * the next one's starts, and the whole batch runs without another client's command in between.
 * The single script's reply must not be `nil` (it would end the flattened reply).
 *
 * With `options.replyWidth` the batch script may be a loop of its own instead of `eachCall` (for
 * example one that reads `TIME` once per batch and passes flat arguments), replying flat (see
 * {@link ScriptBatcherOptions.replyWidth}); it must still run each call as the single script would.
 * With `options.shared` the values every call of a batch has in common (a window, a queue's key)
 * are sent once per batch, and the batch script reads them once (see
 * {@link ScriptBatcherOptions.shared}).
 *
 * @param single - the script each call stands for; its reply type is the batcher's
 * @param batch - the batch twin of `single` (see above); its `numberOfKeys` is ignored
 * @param options - how the batch script replies, and which values a batch sends once
 */
export function createScriptBatcher<TResult>(single: LuaScript<TResult>, batch: LuaScript<unknown>, options: ScriptBatcherOptions = {}): ScriptBatcher<TResult> {
  const perClient = new WeakMap<object, QueuedCall<TResult>[]>();
  const width = options.replyWidth;
  if (width !== undefined && !(Number.isInteger(width) && width >= 1)) throw new TypeError(`script ${single.name}: replyWidth must be a positive integer, got ${String(width)}`);
  const stride = width === undefined ? 2 : width + 1;
  const sharedKeys = options.shared?.keys ?? [];
  const sharedArgs = options.shared?.args ?? [];
  for (const [what, positions, bound] of [['key', sharedKeys, single.numberOfKeys], ['argument', sharedArgs, Infinity]] as const) {
    if (!positions.every((at) => Number.isInteger(at) && at >= 0 && at < bound) || new Set(positions).size !== positions.length) {
      throw new TypeError(`script ${single.name}: shared ${what} positions must be distinct integers from 0${bound === Infinity ? '' : ` to ${bound - 1}`}, got [${positions.join(', ')}]`);
    }
  }
  const sharing = sharedKeys.length > 0 || sharedArgs.length > 0;
  /** Per position: true for a value sent once per batch. */
  const keyIsShared = Array.from({ length: single.numberOfKeys }, (_, at) => sharedKeys.includes(at));
  const maxSharedArg = Math.max(-1, ...sharedArgs);

  /** Whether `a` and `b` carry the same shared values (they may share a batch). */
  const sameShared = (a: QueuedCall<TResult>, b: QueuedCall<TResult>): boolean => {
    for (const at of sharedKeys) if (a.keys[at] !== b.keys[at]) return false;
    for (const at of sharedArgs) if (a.args[at] !== b.args[at]) return false;
    return true;
  };

  const sendMany = (client: ScriptClient, calls: QueuedCall<TResult>[]): void => {
    const first = calls[0]!;
    const keysPerCall = single.numberOfKeys - sharedKeys.length;
    const nArgs = first.args.length - sharedArgs.length;
    const params: Array<string | number> = [];
    if (!sharing) {
      for (const call of calls) for (const key of call.keys) params.push(key);
      params.push(keysPerCall, nArgs);
      for (const call of calls) for (const arg of call.args) params.push(arg);
    } else {
      for (const at of sharedKeys) params.push(first.keys[at]!);
      for (const call of calls) for (let at = 0; at < call.keys.length; at++) if (!keyIsShared[at]) params.push(call.keys[at]!);
      params.push(keysPerCall, nArgs, sharedKeys.length, sharedArgs.length);
      for (const at of sharedArgs) params.push(first.args[at]!);
      const argIsShared = sharedArgs.length === 0 ? undefined : Array.from({ length: first.args.length }, (_, at) => sharedArgs.includes(at));
      for (const call of calls) for (let at = 0; at < call.args.length; at++) if (!argIsShared?.[at]) params.push(call.args[at]!);
    }
    const numberOfKeys = sharedKeys.length + keysPerCall * calls.length;
    const onReply = (reply: unknown): void => {
      const flat = reply as unknown[];
      for (let i = 0, at = 0; i < calls.length; i++, at += stride) {
        const call = calls[i]!;
        if (flat[at] !== 1) call.reject(new RedisReplyError(String(flat[at + 1] ?? `script ${single.name}: no reply in its batch`)));
        else if (width === undefined) call.resolve(flat[at + 1] as TResult);
        else call.resolve(flat.slice(at + 1, at + stride) as TResult);
      }
    };
    const onError = (error: unknown): void => {
      for (const call of calls) call.reject(error);
    };
    batch.runWithKeyCount(client, numberOfKeys, params).then(onReply, onError);
  };

  /** One call: the single script; two or more: the batch script. */
  const send = (client: ScriptClient, calls: QueuedCall<TResult>[]): void => {
    if (calls.length > 1) return sendMany(client, calls);
    const call = calls[0]!;
    single.run(client, call.keys, call.args).then(call.resolve, call.reject);
  };

  const flush = (client: ScriptClient): void => {
    const calls = perClient.get(client);
    perClient.delete(client);
    if (!calls) return;
    // The batch script takes one argument count; calls with another (optional trailing arguments,
    // or fewer than a shared position needs) go alone.
    const nArgs = calls[0]!.args.length;
    const batchable = (call: QueuedCall<TResult>): boolean => call.args.length === nArgs && call.args.length > maxSharedArg;
    for (const call of calls) if (!batchable(call)) send(client, [call]);
    const groups: QueuedCall<TResult>[][] = [];
    for (const call of calls) {
      if (!batchable(call)) continue;
      let group = groups[groups.length - 1];
      // Usually one group: the last one is tried first.
      if (group === undefined || !sameShared(group[0]!, call)) group = groups.find((g) => sameShared(g[0]!, call));
      if (group === undefined) groups.push((group = []));
      group.push(call);
    }
    for (const same of groups) for (let i = 0; i < same.length; i += MAX_BATCH_CALLS) send(client, same.slice(i, i + MAX_BATCH_CALLS));
  };

  return {
    run(client, keys, args) {
      const c = client as BatchableClient;
      if (c.isCluster === true || c.status !== 'ready') return single.run(client, keys, args);
      if (keys.length !== single.numberOfKeys) {
        return Promise.reject(new TypeError(`script ${single.name} takes ${single.numberOfKeys} keys, got ${keys.length}`));
      }
      return new Promise<TResult>((resolve, reject) => {
        let calls = perClient.get(client);
        if (!calls) {
          calls = [];
          perClient.set(client, calls);
          process.nextTick(flush, client);
        }
        calls.push({ keys, args, resolve, reject });
      });
    },
  };
}
