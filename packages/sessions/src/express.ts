import type { SessionOwner, SessionSchema } from './codec';
import { SESSION_ID_PATTERN } from './keys';
import type { SessionStore } from './store';

/** Options of {@link expressSessionStore}. */
export interface ExpressSessionStoreOptions {
  /**
   * Whose session an express-session object is. A session without an owner is not stored (and a
   * stored one is deleted), as a session store here only keeps signed-in sessions.
   * @defaultValue `session.tenantId` and `session.userId` when both are strings
   */
  owner?: (session: Record<string, unknown>) => SessionOwner | undefined;
}

/** express-session's `Store` class, or any class whose instances express-session can use as one. */
export type ExpressStoreBase = abstract new () => object;

/** The callbacks express-session passes to a store. */
type Done = (error?: unknown) => void;

function defaultOwner(session: Record<string, unknown>): SessionOwner | undefined {
  const { tenantId, userId } = session;
  return typeof tenantId === 'string' && typeof userId === 'string' ? { tenantId, userId } : undefined;
}

/**
 * Makes a {@link SessionStore} an express-session store (`get`, `set`, `destroy`, `touch`).
 * `Base` is express-session's `Store` class, passed in so this package does not depend on
 * express-session. The store's schema must accept express-session's `cookie` object
 * (for example `cookie: z.looseObject({})`); sessions are stored under express-session's id as
 * `session:{sid}`, with the store's TTL (set `cookie.maxAge` to match).
 *
 * @example
 * import session from 'express-session';
 * app.use(session({ secret, store: expressSessionStore(session.Store, sessions), saveUninitialized: false, resave: false }));
 */
export function expressSessionStore<B extends ExpressStoreBase, S extends SessionSchema>(
  Base: B,
  store: SessionStore<S>,
  options: ExpressSessionStoreOptions = {},
): InstanceType<B> {
  const ownerOf = options.owner ?? defaultOwner;
  // An id express-session did not make (a forged cookie) is no session, not an error.
  const known = (sid: string) => typeof sid === 'string' && SESSION_ID_PATTERN.test(sid);
  const settle = (promise: Promise<unknown>, callback: Done | undefined) => {
    promise.then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  };

  const methods = {
    get(sid: string, callback: (error: unknown, session?: Record<string, unknown> | null) => void): void {
      if (!known(sid)) return callback(null, null);
      store.get(sid).then(
        (found) => callback(null, found === null ? null : (found.data as Record<string, unknown>)),
        (error: unknown) => callback(error),
      );
    },
    set(sid: string, session: Record<string, unknown>, callback?: Done): void {
      const owner = ownerOf(session);
      if (owner === undefined) return settle(known(sid) ? store.destroy(sid) : Promise.resolve(), callback);
      settle(store.set(sid, { ...session, tenantId: owner.tenantId, userId: owner.userId } as Parameters<SessionStore<S>['set']>[1]), callback);
    },
    destroy(sid: string, callback?: Done): void {
      settle(known(sid) ? store.destroy(sid) : Promise.resolve(), callback);
    },
    touch(sid: string, _session: unknown, callback?: Done): void {
      settle(known(sid) ? store.touch(sid) : Promise.resolve(), callback);
    },
  };
  // express-session's Store is an EventEmitter with regenerate/load/createSession on its prototype.
  const instance = Reflect.construct(Base, []) as InstanceType<B>;
  return Object.assign(instance, methods);
}
