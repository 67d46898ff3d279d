import { ConfigError, InvalidArgumentError, assertTenantId, checkInteger, describeValue, isConnectionError, type ScriptClient } from '@platform/redis';
import { clusterMasterOf } from '@platform/redis/internal';
import { unavailableError } from './errors';
import { limiterKeys } from './keys';
import { RATE_LIMIT_ALGORITHMS, defaultRateLimiterOptions, windowMsOf, withDefaults, type RateLimitAlgorithm } from './options';
import { decisionScripts, resetKeyScript, type BatchReply, type DecisionReply } from './scripts';

/**
 * The narrowest client a limiter needs: `EVALSHA` and `EVAL` (every decision and reset is one
 * script). Structural: any ioredis `Redis` or `Cluster` the peer range allows will do.
 */
export type LimiterClient = ScriptClient;

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /**
   * The connection. Use one that does not queue or replay commands while Redis is offline:
   * `createLimiterConnection()`, or a `producer` connection from `createRedisConnection`.
   */
  redis: LimiterClient;
  /** The provider being limited, e.g. `semrush` (letters, digits, `_ . @ -`; no `:`). */
  provider: string;
  /** Calls allowed per window; for `token-bucket`, tokens added per window. */
  limit: number;
  /** Window length in seconds (fractions allowed). */
  windowSeconds: number;
  /** @defaultValue `'fixed-window'` */
  algorithm?: RateLimitAlgorithm;
  /** `token-bucket` only: bucket capacity, the most calls allowed at once. @defaultValue `limit` */
  burst?: number;
  /** First key part. @defaultValue `'ratelimit'` (keys `ratelimit:{tenantId}:{provider}`) */
  prefix?: string;
  /**
   * The platform's key prefix in front of every key (`''` for none).
   * @defaultValue `REDIS_KEY_PREFIX` (empty: keys are exactly `ratelimit:{tenantId}:{provider}`)
   */
  keyPrefix?: string;
  /**
   * Remember refusals in this process: once a key is known to refuse calls until T, further calls
   * (of at least the refused cost) are refused locally until T without a Redis round trip. Only
   * refusals are remembered, so this never lets more than `limit` through; a `reset` from another
   * process is seen only after T. @defaultValue `true`
   */
  shortCircuit?: boolean;
  /**
   * When Redis cannot be reached, allow the call instead of throwing
   * `RateLimiterUnavailableError`. @defaultValue `false`
   */
  failOpen?: boolean;
  /**
   * On a standalone or Sentinel connection, the `consume` calls of one event-loop turn go to Redis
   * as one script call that decides them in order, atomically, each exactly as a call of its own
   * would be (a tenant named twice sees its earlier decision). One command instead of one per call:
   * less CPU in this process and in Redis when many calls are in flight; a lone call is sent as it
   * always was. On a Redis Cluster (Redis 7 or later) the calls of one turn are grouped by the
   * master serving their keys, one script call per master (tenants' keys live in different slots;
   * the script is flagged `allow-cross-slot-keys`); a call whose key moved meanwhile is decided again
   * on its own, and a cluster of older servers gets one script call per decision.
   * @defaultValue `true`
   */
  batching?: boolean;
}

/** Options of one `consume` or `peek` call. */
export interface ConsumeOptions {
  /** Units this call takes (integer, at most `limit`, or `burst` for `token-bucket`). @defaultValue `1` */
  cost?: number;
}

/** A limiter's decision. */
export interface RateLimitResult {
  /** Whether the call may go ahead (for `consume`, it has been counted). */
  allowed: boolean;
  /** Units left right now, after this call if it was allowed. */
  remaining: number;
  /** `0` when allowed; otherwise ms until a call of the same cost could be allowed. */
  retryAfterMs: number;
  /**
   * When the limiter is back to full capacity (window end, empty log or full bucket), in ms since
   * the epoch on the caller's clock (Redis measures the time left; the caller adds its `Date.now()`).
   */
  resetAt: number;
}

/** A per-tenant limiter for one provider. See {@link createRateLimiter}. */
export interface RateLimiter {
  /** The provider being limited. */
  readonly provider: string;
  /** Calls per window (tokens per window for `token-bucket`). */
  readonly limit: number;
  /** Window length in seconds. */
  readonly windowSeconds: number;
  /** The algorithm. */
  readonly algorithm: RateLimitAlgorithm;
  /** Most units one call can take: `limit`, or `burst` for `token-bucket`. */
  readonly capacity: number;
  /** The Redis key for a tenant: `ratelimit:{tenantId}:{provider}`. Validates the tenant id. */
  key(tenantId: string): string;
  /**
   * Takes `cost` units for the tenant if they are available, in one atomic script.
   * @throws InvalidArgumentError for a bad tenant id or cost (before Redis is touched)
   * @throws RateLimiterUnavailableError (a `RedisUnavailableError`) when Redis cannot be reached (unless `failOpen`)
   */
  consume(tenantId: string, options?: ConsumeOptions): Promise<RateLimitResult>;
  /** Would `consume` allow `cost` units now? Takes nothing. */
  peek(tenantId: string, options?: ConsumeOptions): Promise<RateLimitResult>;
  /** Forgets the tenant's usage (deletes its key) and this process's remembered refusal. */
  reset(tenantId: string): Promise<void>;
}

interface Refusal {
  until: number;
  cost: number;
  remaining: number;
  resetAt: number;
}

// Bounds the memory of the in-process short-circuit; expired entries are dropped first.
const MAX_REMEMBERED_REFUSALS = 10_000;

/** Most decisions in one batched script call. */
const MAX_BATCH = 256;

interface QueuedCall {
  key: string;
  cost: number;
  resolve(result: RateLimitResult): void;
  reject(error: unknown): void;
}

/**
 * A node batch's entry for a key its master does not serve (Redis's "Script attempted to access a
 * non local key in a cluster node"), or a cluster that cannot serve it now: decided again alone.
 * The error codes as whole words: "MOVED" in "REMOVED" or "ASK" in "TASK" is some other error.
 */
const NOT_SERVED_HERE = /non local key|cluster is down|\b(?:CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/;

/** Whether a node batch's error for one key means "not served by this node now" (see NOT_SERVED_HERE). */
export function isNotServedHere(message: string): boolean {
  return NOT_SERVED_HERE.test(message);
}

/** What a server before Redis 7 replies to a script with a `#!lua flags=...` line. */
const NO_SCRIPT_FLAGS = /Error compiling script|unexpected symbol near '#'|Unknown lua shebang|shebang/i;

/** `sliding-window` keeps both bucket counts in one integer, so `limit` must stay below 2^26. */
const SLIDING_WINDOW_MAX_LIMIT = 2 ** 26;

/**
 * Creates a per-tenant rate limiter for one provider. Each decision is one Lua script called by
 * SHA, timed by Redis (`TIME`/`PTTL`), and every key it writes gets its TTL in that same script.
 *
 * - `fixed-window` (default): at most `limit` calls per window; the window opens with the first
 *   call, as `INCR` + `EXPIRE` would, but atomically.
 * - `sliding-window`: a two-bucket weighted counter (one integer per key): the previous window's
 *   count weighted by how much of it the sliding window still covers, plus the current count.
 *   Approximate: exact when calls are spread evenly, at most `limit` per bucket, and under
 *   `2 × limit` in any `windowSeconds`-long interval in the worst case (see the README).
 * - `sliding-log`: exactly at most `limit` calls in any `windowSeconds`-long interval (a log of calls).
 * - `token-bucket`: `limit` tokens per window at a steady rate, up to `burst` at once (GCRA).
 *
 * @example
 * const semrush = createRateLimiter({ redis, provider: 'semrush', limit: 10, windowSeconds: 60 });
 * const { allowed, retryAfterMs } = await semrush.consume(tenantId);
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { redis, provider, limit, windowSeconds, algorithm, prefix, shortCircuit, failOpen } = withDefaults(options, defaultRateLimiterOptions);
  const keyOf = limiterKeys({ redis, provider, prefix, keyPrefix: options.keyPrefix });
  checkInteger('limit', limit, 1);
  const windowMs = windowMsOf(windowSeconds);
  if (!RATE_LIMIT_ALGORITHMS.includes(algorithm)) {
    throw new InvalidArgumentError('algorithm', `must be one of ${RATE_LIMIT_ALGORITHMS.join(', ')}, got ${describeValue(algorithm)}`);
  }
  let capacity = limit;
  // Per-algorithm script arguments after the cost-independent ones are computed once.
  let arg1: string;
  let arg2: string;
  if (algorithm === 'token-bucket') {
    const burst = options.burst ?? limit;
    checkInteger('burst', burst, 1);
    capacity = burst;
    const interval = (windowMs * 1000) / limit; // µs between tokens
    // The bucket's time is kept to a thousandth of a µs (rounded up): keep that below 0.01 % of a token.
    if (interval < 10) {
      throw new InvalidArgumentError('limit', `token-bucket allows at most 100000 tokens per second, got ${limit} per ${windowSeconds} s`);
    }
    arg1 = String(interval);
    arg2 = String(burst);
  } else {
    if (options.burst !== undefined) throw new InvalidArgumentError('burst', 'applies to the token-bucket algorithm only');
    // The counter packs the previous and current bucket into one integer, 26 bits each.
    if (algorithm === 'sliding-window' && limit >= SLIDING_WINDOW_MAX_LIMIT) {
      throw new InvalidArgumentError('limit', `sliding-window allows a limit below ${SLIDING_WINDOW_MAX_LIMIT}, got ${limit} (use sliding-log or token-bucket)`);
    }
    arg1 = String(limit);
    arg2 = String(windowMs);
  }
  const { decide, peek: peekScript, batch: batchScript, nodeBatch: nodeBatchScript } = decisionScripts[algorithm];
  const refusals = shortCircuit ? new Map<string, Refusal>() : undefined;
  const batching = options.batching !== false;
  const onCluster = (redis as { isCluster?: boolean }).isCluster === true;
  // Cleared when the cluster's servers cannot run the node batch script (Redis before 7: no script flags).
  let nodeBatching = onCluster;
  // A node batch names its keys as arguments, which ioredis does not prefix: the client's own
  // `keyPrefix` (if a service set one) is added here, as ioredis adds it to declared keys.
  const clientKeyPrefix = (redis as { options?: { keyPrefix?: string } }).options?.keyPrefix ?? '';
  // When the calls of a turn are sent. Standalone: at the end of the current callback (one
  // connection, its replies arrive in one read). Cluster: after the I/O phase, so that calls made
  // on replies from several masters read in one loop iteration go out as one batch per master.
  const schedule: (flush: () => void) => void = onCluster ? (fn) => void setImmediate(fn) : (fn) => process.nextTick(fn);

  const costOf = (consumeOptions: ConsumeOptions | undefined): number => {
    const cost = consumeOptions?.cost;
    if (cost === undefined) return 1;
    return checkInteger('cost', cost, 1, capacity);
  };

  const toResult = (reply: DecisionReply): RateLimitResult => {
    const remaining = reply[1];
    return {
      allowed: reply[0] === 1,
      remaining: remaining > 0 ? remaining : 0,
      retryAfterMs: reply[2],
      resetAt: Date.now() + reply[3],
    };
  };

  const unavailable = (error: unknown, key: string, cost: number): RateLimitResult => {
    if (!isConnectionError(error)) {
      // Another algorithm's state: a key of another type, or (for fixed-window's INCRBY) a token
      // bucket's fractional time stamp.
      if (error instanceof Error && /WRONGTYPE|value is not an integer/.test(error.message)) {
        throw new ConfigError(
          'algorithm',
          `${key} holds the state of another algorithm than ${algorithm} (was the algorithm of provider "${provider}" ` +
            'changed?); it expires within one window, or call reset(tenantId)',
          { cause: error },
        );
      }
      throw error;
    }
    if (failOpen) return { allowed: true, remaining: capacity - cost, retryAfterMs: 0, resetAt: Date.now() };
    throw unavailableError(error, key);
  };

  const remember = (key: string, cost: number, result: RateLimitResult): void => {
    if (refusals!.size >= MAX_REMEMBERED_REFUSALS) {
      const now = Date.now();
      for (const [k, r] of refusals!) if (r.until <= now) refusals!.delete(k);
      if (refusals!.size >= MAX_REMEMBERED_REFUSALS) refusals!.clear();
    }
    refusals!.set(key, { until: Date.now() + result.retryAfterMs, cost, remaining: result.remaining, resetAt: result.resetAt });
  };

  const decided = (key: string, cost: number, reply: DecisionReply): RateLimitResult => {
    const result = toResult(reply);
    if (reply[0] !== 1 && refusals !== undefined && result.retryAfterMs > 0) remember(key, cost, result);
    return result;
  };

  /** One decision, one script call (`runWithKeyCount`: EVALSHA, EVAL once on NOSCRIPT), no wrapper promise. */
  const decideOne = (key: string, cost: number): Promise<RateLimitResult> => {
    const onReply = (reply: DecisionReply): RateLimitResult => decided(key, cost, reply);
    // Not ready (startup, outage): the script runner waits for a fail-fast client's first `ready`.
    if ((redis as { status?: string }).status !== 'ready') {
      return decide.run(redis, [key], [arg1, arg2, cost]).then(onReply, (error: unknown) => unavailable(error, key, cost));
    }
    return decide.runWithKeyCount(redis, 1, [key, arg1, arg2, cost]).then(onReply, (error: unknown) => unavailable(error, key, cost));
  };

  // The calls of this event-loop turn, sent together by `flush` (see the `batching` option).
  let queued: QueuedCall[] = [];

  const settle = (call: QueuedCall, outcome: () => RateLimitResult): void => {
    try {
      call.resolve(outcome());
    } catch (error) {
      call.reject(error);
    }
  };

  /**
   * Settles `calls` from a batch script's reply. `retryMoved`: a call whose key the node does not
   * serve (a node batch sent by an out-of-date slot table; its key is unchanged) is decided again
   * on its own, where ioredis follows the redirection.
   */
  const settleBatch = (calls: QueuedCall[], reply: BatchReply, retryMoved: boolean): void => {
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      const code = reply[4 * i];
      if (code === -1) {
        const message = String(reply[4 * i + 1]);
        if (retryMoved && isNotServedHere(message)) decideOne(call.key, call.cost).then(call.resolve, call.reject);
        else settle(call, () => unavailable(new Error(message), call.key, call.cost));
      } else {
        settle(call, () => decided(call.key, call.cost, [code as number, reply[4 * i + 1] as number, reply[4 * i + 2] as number, reply[4 * i + 3] as number]));
      }
    }
  };

  const failBatch = (calls: QueuedCall[], error: unknown): void => {
    for (const call of calls) settle(call, () => unavailable(error, call.key, call.cost));
  };

  /** The calls of one turn on a standalone or Sentinel client: every key declared. */
  const decideMany = (calls: QueuedCall[]): void => {
    const args: Array<string | number> = new Array<string | number>(2 * calls.length + 2);
    for (let i = 0; i < calls.length; i++) {
      args[i] = calls[i]!.key;
      args[calls.length + 2 + i] = calls[i]!.cost;
    }
    args[calls.length] = arg1;
    args[calls.length + 1] = arg2;
    (batchScript.runWithKeyCount(redis, calls.length, args) as Promise<BatchReply>).then(
      (reply) => settleBatch(calls, reply, false),
      (error: unknown) => failBatch(calls, error),
    );
  };

  /** Calls whose keys one cluster master serves (by the client's slot table), in one script call. */
  const decideOnNode = (calls: QueuedCall[]): void => {
    const n = calls.length;
    const args: Array<string | number> = new Array<string | number>(2 * n + 4);
    args[0] = calls[0]!.key;
    args[1] = arg1;
    args[2] = arg2;
    args[3] = n;
    for (let i = 0; i < n; i++) {
      args[4 + i] = clientKeyPrefix + calls[i]!.key;
      args[4 + n + i] = calls[i]!.cost;
    }
    (nodeBatchScript.runWithKeyCount(redis, 1, args) as Promise<BatchReply>).then(
      (reply) => settleBatch(calls, reply, true),
      (error: unknown) => {
        if (!(error instanceof Error) || !NO_SCRIPT_FLAGS.test(error.message)) return failBatch(calls, error);
        // A server before Redis 7 cannot compile the flagged script, and ran nothing of it.
        nodeBatching = false;
        for (const call of calls) decideOne(call.key, call.cost).then(call.resolve, call.reject);
      },
    );
  };

  /** A cluster's calls of one turn: one script call per master (a call alone goes as it is). */
  const decidePerNode = (calls: QueuedCall[]): void => {
    const byNode = new Map<string | undefined, QueuedCall[]>();
    for (const call of calls) {
      const node = nodeBatching ? clusterMasterOf(redis, clientKeyPrefix + call.key) : undefined;
      const group = byNode.get(node);
      if (group) group.push(call);
      else byNode.set(node, [call]);
    }
    for (const [node, group] of byNode) {
      if (node === undefined || group.length === 1) {
        for (const call of group) decideOne(call.key, call.cost).then(call.resolve, call.reject);
      } else {
        for (let i = 0; i < group.length; i += MAX_BATCH) decideOnNode(group.slice(i, i + MAX_BATCH));
      }
    }
  };

  const flush = (): void => {
    const calls = queued;
    queued = [];
    if (calls.length === 1) {
      const call = calls[0]!;
      decideOne(call.key, call.cost).then(call.resolve, call.reject);
      return;
    }
    if (onCluster) return decidePerNode(calls);
    for (let i = 0; i < calls.length; i += MAX_BATCH) decideMany(calls.slice(i, i + MAX_BATCH));
  };

  return {
    provider,
    limit,
    windowSeconds,
    algorithm,
    capacity,
    key(tenantId) {
      assertTenantId(tenantId);
      return keyOf(tenantId);
    },
    consume(tenantId, consumeOptions) {
      // Not async: one promise fewer per call on the hot path; bad input still rejects.
      let cost: number;
      let key: string;
      try {
        assertTenantId(tenantId);
        cost = costOf(consumeOptions);
        key = keyOf(tenantId);
      } catch (error) {
        return Promise.reject(error);
      }
      if (refusals !== undefined && refusals.size > 0) {
        const refusal = refusals.get(key);
        if (refusal !== undefined) {
          const now = Date.now();
          if (now >= refusal.until) refusals.delete(key);
          // Capacity only grows with time, so a cost at least the refused one is refused until then.
          else if (cost >= refusal.cost) {
            return Promise.resolve({ allowed: false, remaining: refusal.remaining, retryAfterMs: refusal.until - now, resetAt: refusal.resetAt });
          }
        }
      }
      if (!batching || (redis as { status?: string }).status !== 'ready') return decideOne(key, cost);
      return new Promise<RateLimitResult>((resolve, reject) => {
        if (queued.length === 0) schedule(flush);
        queued.push({ key, cost, resolve, reject });
      });
    },
    async peek(tenantId, consumeOptions) {
      assertTenantId(tenantId);
      const cost = costOf(consumeOptions);
      const key = keyOf(tenantId);
      let reply: DecisionReply;
      try {
        reply = await peekScript.run(redis, [key], [arg1, arg2, cost]);
      } catch (error) {
        return unavailable(error, key, cost);
      }
      return toResult(reply);
    },
    async reset(tenantId) {
      assertTenantId(tenantId);
      const key = keyOf(tenantId);
      refusals?.delete(key);
      try {
        await resetKeyScript.run(redis, [key], []);
      } catch (error) {
        throw unavailableError(error, key);
      }
      // A refusal sent before the reset may have been answered (and remembered) since.
      refusals?.delete(key);
    },
  };
}
