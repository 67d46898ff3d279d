import { checkInteger, InvalidArgumentError, resolveKeyPrefix } from '@platform/redis';
import { createCodec, type SessionData, type SessionInput, type SessionSchema, type SessionCodec } from './codec';
import { bounded, holdClient, type SessionClient } from './connection';
import { SessionConflictError, SessionNotFoundError } from './errors';
import { checkSessionId, checkTenantId, checkUserId, newSessionId, sessionKey, userIndexKey } from './keys';
import { checkBoolean, checkClient, checkObject, defaultSessionStoreOptions, INDEX_HORIZON_TTLS, timeoutMsOf, ttlMsOf } from './options';
import { destroySession, extendUserIndex, putSession, readSession, touchSession, updateSession } from './scripts';

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions<S extends SessionSchema> {
  /**
   * Any ioredis client (`Redis` or `Cluster`). Prefer one that fails fast while Redis is down, such
   * as a `producer` connection from `createRedisConnection`.
   * @defaultValue a `producer` connection from the `REDIS_*` environment, made on first use and closed by `close()`
   */
  redis?: SessionClient;
  /** zod object schema of the session data; `tenantId` and `userId` are added to it (both required). */
  schema: S;
  /** Lifetime of a session in seconds (1 to 366 days). @defaultValue `7200` (2 hours) */
  ttlSeconds?: number;
  /** `get` and `update` set the TTL again (an active session stays alive). @defaultValue `true` */
  sliding?: boolean;
  /**
   * Key prefix in front of `session:…`. @defaultValue `REDIS_KEY_PREFIX` (empty: keys are exactly
   * `session:{sessionId}`)
   */
  keyPrefix?: string;
  /** Largest session, as JSON in bytes. @defaultValue `65536` (64 KiB) */
  maxBytes?: number;
  /** Every call resolves or rejects within this many ms (SessionStoreUnavailableError). @defaultValue `5000` */
  timeoutMs?: number;
  /** `update` without `ifVersion` retries a lost race this many times in all. @defaultValue `10` */
  maxUpdateAttempts?: number;
}

/** A stored session. */
export interface Session<T> {
  /** The session id (a bearer credential: never log it). */
  id: string;
  /** The validated data, including `tenantId` and `userId`. */
  data: T;
  /** Grows by one with every write; pass it as `ifVersion` to update only this version. */
  version: number;
  /** When the session expires, ms since the epoch (Redis time). */
  expiresAt: number;
}

/** What `create` returns. */
export interface CreatedSession {
  /** 192 random bits as 32 URL-safe characters. */
  id: string;
  /** When the session expires, ms since the epoch (Redis time). */
  expiresAt: number;
  /** The first version: `1`. */
  version: number;
}

/** Options of `update`. */
export interface UpdateOptions {
  /** Write only if the session is at this version; otherwise throw SessionConflictError. */
  ifVersion?: number;
}

/** A shallow patch of session data, or a function of the current data returning one. */
export type SessionPatch<S extends SessionSchema> =
  | Partial<SessionInput<S>>
  | ((current: SessionData<S>) => Partial<SessionInput<S>>);

/** A session store. See {@link createSessionStore}. */
export interface SessionStore<S extends SessionSchema> {
  /** Session lifetime in seconds. */
  readonly ttlSeconds: number;
  /** Whether reads and updates set the TTL again. */
  readonly sliding: boolean;
  /** Creates a session for `data.tenantId`/`data.userId` under a new random id. */
  create(data: SessionInput<S>): Promise<CreatedSession>;
  /** The session, validated, or `null` when there is none; sliding stores set its TTL again. */
  get(id: string): Promise<Session<SessionData<S>> | null>;
  /**
   * Merges `patch` (or what `patch(current)` returns) into the data, shallowly, as one
   * compare-and-set on the version. `tenantId` and `userId` cannot change. `patch(current)` returns
   * the patch itself: a promise (an async function) is refused with `InvalidArgumentError`.
   * @throws SessionConflictError if `ifVersion` is not the current version (nothing written)
   * @throws SessionNotFoundError if there is no such session
   */
  update(id: string, patch: SessionPatch<S>, options?: UpdateOptions): Promise<Session<SessionData<S>>>;
  /** Creates or replaces the session under a given id (used by the express-session adapter). */
  set(id: string, data: SessionInput<S>): Promise<{ version: number; expiresAt: number }>;
  /** Sets the TTL again; the new expiry, or `null` when there is no session. */
  touch(id: string): Promise<number | null>;
  /** Deletes the session; `true` if there was one. */
  destroy(id: string): Promise<boolean>;
  /** Deletes every session of one user (as found in the user's index); how many were deleted. */
  destroyAllForUser(tenantId: string, userId: string): Promise<number>;
  /** Closes the connection the store made itself (never a client that was passed in). */
  close(): Promise<void>;
}

/**
 * Creates a session store: each session is one hash `session:{sessionId}` with its TTL, and each
 * user has an index `session_user:{tenantId}:{userId}` that itself expires. Every step is one Lua
 * script on one key, so a Redis Cluster works; a session never outlives its entry in the index.
 *
 * @example
 * const sessions = createSessionStore({ redis, schema: z.object({ cart: z.array(z.string()) }) });
 * const { id } = await sessions.create({ tenantId: 'acme', userId: 'u1', cart: [] });
 * const session = await sessions.get(id);
 */
export function createSessionStore<S extends SessionSchema>(options: SessionStoreOptions<S>): SessionStore<S> {
  checkObject('options', options);
  const d = defaultSessionStoreOptions;
  checkClient(options.redis);
  const ttlSeconds = options.ttlSeconds ?? d.ttlSeconds;
  const ttlMs = ttlMsOf(ttlSeconds);
  const sliding = checkBoolean('sliding', options.sliding ?? d.sliding);
  const maxBytes = checkInteger('maxBytes', options.maxBytes ?? d.maxBytes, 2);
  const timeoutMs = timeoutMsOf(options.timeoutMs ?? d.timeoutMs);
  const maxUpdateAttempts = checkInteger('maxUpdateAttempts', options.maxUpdateAttempts ?? d.maxUpdateAttempts, 1, 1000);
  const prefix = resolveKeyPrefix(options.keyPrefix);
  const codec: SessionCodec<S> = createCodec(options.schema, maxBytes);
  const holder = holdClient(options.redis, 'platform:sessions');
  const horizonMs = ttlMs * INDEX_HORIZON_TTLS;
  const keyOf = (id: string) => sessionKey(prefix, id);

  /** Moves the session's index entry forward, then its TTL (used when the TTL hit the horizon). */
  const renewIndex = async (id: string, tenantId: string, userId: string): Promise<number | null> => {
    const redis = holder.client();
    const horizon = await extendUserIndex.run(redis, [userIndexKey(prefix, tenantId, userId)], [id, horizonMs]);
    const reply = await touchSession.run(redis, [keyOf(id)], [ttlMs, horizon, tenantId, userId]);
    return reply.length === 0 ? null : reply[0];
  };

  /** Index first, then the session: an interruption leaves an index entry without a session, never the reverse. */
  const write = async (id: string, data: SessionData<S>, createOnly: boolean) => {
    const json = codec.serialize(data);
    const redis = holder.client();
    const horizon = await extendUserIndex.run(redis, [userIndexKey(prefix, data.tenantId, data.userId)], [id, horizonMs]);
    const [version, expiresAt] = await putSession.run(redis, [keyOf(id)], [json, data.tenantId, data.userId, ttlMs, horizon, createOnly ? 1 : 0]);
    return { version, expiresAt };
  };

  const read = async (id: string, refresh: boolean): Promise<Session<SessionData<S>> | null> => {
    const reply = await readSession.run(holder.client(), [keyOf(id)], [refresh ? ttlMs : 0]);
    if (reply.length === 0) return null;
    const [json, version, tenantId, userId, expiresAt, renew] = reply;
    const data = codec.parse(json);
    const renewed = renew === 1 ? await renewIndex(id, tenantId, userId) : null;
    return { id, data, version, expiresAt: renewed ?? expiresAt };
  };

  const update = async (id: string, patch: SessionPatch<S>, ifVersion: number | undefined): Promise<Session<SessionData<S>>> => {
    let lastConflict: SessionConflictError | undefined;
    for (let attempt = 0; attempt < maxUpdateAttempts; attempt++) {
      const current = await read(id, false);
      if (current === null) throw new SessionNotFoundError(id);
      if (ifVersion !== undefined && current.version !== ifVersion) throw new SessionConflictError(id, ifVersion, current.version);
      const next = merge(codec, current.data, typeof patch === 'function' ? patch(current.data) : patch);
      const json = codec.serialize(next);
      const reply = await updateSession.run(holder.client(), [keyOf(id)], [current.version, json, sliding ? ttlMs : 0]);
      const [version, expiresAt = 0, renew = 0] = reply;
      if (version === -1) throw new SessionNotFoundError(id);
      if (version === -2) {
        lastConflict = new SessionConflictError(id, current.version, reply[1]);
        if (ifVersion !== undefined) throw lastConflict;
        continue;
      }
      const renewed = renew === 1 ? await renewIndex(id, next.tenantId, next.userId) : null;
      return { id, data: next, version, expiresAt: renewed ?? expiresAt };
    }
    throw lastConflict!;
  };

  return {
    ttlSeconds,
    sliding,
    async create(data) {
      const valid = codec.validate(data);
      codec.serialize(valid);
      return bounded('session create', timeoutMs, async () => {
        // A collision of 192 random bits does not happen; the loop only keeps create-only honest.
        for (;;) {
          const id = newSessionId();
          const { version, expiresAt } = await write(id, valid, true);
          if (version !== 0) return { id, expiresAt, version };
        }
      });
    },
    async get(id) {
      checkSessionId(id);
      return bounded('session get', timeoutMs, () => read(id, sliding));
    },
    async update(id, patch, updateOptions = {}) {
      checkSessionId(id);
      if (typeof patch !== 'function') checkPatch(patch);
      checkObject('options', updateOptions);
      const { ifVersion } = updateOptions;
      if (ifVersion !== undefined) checkInteger('ifVersion', ifVersion, 1);
      return bounded('session update', timeoutMs, () => update(id, patch, ifVersion));
    },
    async set(id, data) {
      checkSessionId(id);
      const valid = codec.validate(data);
      codec.serialize(valid);
      return bounded('session set', timeoutMs, () => write(id, valid, false));
    },
    async touch(id) {
      checkSessionId(id);
      return bounded('session touch', timeoutMs, async () => {
        const reply = await touchSession.run(holder.client(), [keyOf(id)], [ttlMs, 0, '', '']);
        if (reply.length === 0) return null;
        return reply[1] === 1 ? renewIndex(id, reply[2], reply[3]) : reply[0];
      });
    },
    async destroy(id) {
      checkSessionId(id);
      return bounded('session destroy', timeoutMs, async () => {
        const owner = await destroySession.run(holder.client(), [keyOf(id)], ['', '']);
        return owner.length > 0;
      });
    },
    async destroyAllForUser(tenantId, userId) {
      checkTenantId(tenantId);
      checkUserId(userId);
      return bounded('session destroyAllForUser', timeoutMs, () => destroyAll(holder.client(), prefix, tenantId, userId));
    },
    close: () => holder.close(),
  };
}

/** A patch is an object, not a promise: an async update function's result would merge as nothing. */
function checkPatch(patch: unknown): Record<string, unknown> {
  const checked = checkObject<Record<string, unknown>>('patch', patch);
  if (typeof (checked as { then?: unknown }).then === 'function') {
    // Its rejection, if any, must not become an unhandled one.
    (checked as unknown as PromiseLike<unknown>).then(undefined, () => undefined);
    throw new InvalidArgumentError('patch', 'must be an object, got a promise (an update function must return its patch, not a promise of it)');
  }
  return checked;
}

/** Shallow merge of a patch into the current data, validated; the owner cannot change. */
function merge<S extends SessionSchema>(codec: SessionCodec<S>, current: SessionData<S>, patch: unknown): SessionData<S> {
  const checked = checkPatch(patch);
  for (const field of ['tenantId', 'userId'] as const) {
    if (field in checked && checked[field] !== current[field]) {
      throw new InvalidArgumentError('patch', `${field} cannot change; create a new session for another user`);
    }
  }
  return codec.validate({ ...current, ...checked });
}

const DESTROY_BATCH = 100;

/**
 * Deletes the sessions listed in the user's index, each only if it still belongs to that user.
 * Index entries are not removed here: one removed while a concurrent `set` of the same id sits
 * between its two steps would leave that session out of the index. Entries drop out on their own
 * once their horizon has passed, and the index expires.
 */
async function destroyAll(redis: SessionClient, prefix: string, tenantId: string, userId: string): Promise<number> {
  const ids = await redis.zrange(userIndexKey(prefix, tenantId, userId), '0', '-1');
  let destroyed = 0;
  for (let i = 0; i < ids.length; i += DESTROY_BATCH) {
    const batch = ids.slice(i, i + DESTROY_BATCH);
    const replies = await Promise.all(batch.map((id) => destroySession.run(redis, [sessionKey(prefix, id)], [tenantId, userId])));
    destroyed += replies.filter((reply) => reply.length > 0).length;
  }
  return destroyed;
}
