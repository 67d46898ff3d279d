import countLeasesLua from './lua/countLeases-1.lua';
import refreshLeaseLua from './lua/refreshLease-1.lua';
import releaseLeaseLua from './lua/releaseLease-1.lua';
import takeLeaseLua from './lua/takeLease-1.lua';
import { defineScript, type ScriptClient } from './scripts';
import { checkInteger, checkMs } from './validate';

export const takeLeaseScript = defineScript<[number, number]>({ name: 'takeLease', numberOfKeys: 1, lua: takeLeaseLua });
export const refreshLeaseScript = defineScript<number>({ name: 'refreshLease', numberOfKeys: 1, lua: refreshLeaseLua });
export const releaseLeaseScript = defineScript<number>({ name: 'releaseLease', numberOfKeys: 1, lua: releaseLeaseLua });
export const countLeasesScript = defineScript<number>({ name: 'countLeases', numberOfKeys: 1, lua: countLeasesLua });

/** Every script of the lease set (for the SCRIPT LOAD and header tests). */
export const leaseScripts = [takeLeaseScript, refreshLeaseScript, releaseLeaseScript, countLeasesScript] as const;

/** What {@link leases}.take answers. */
export type LeaseTake =
  /** Taken: `live` counts this lease. */
  | { readonly taken: true; readonly live: number; readonly waitMs: 0 }
  /** Every slot was taken: `waitMs` until the earliest lease expires (0 when that is now). */
  | { readonly taken: false; readonly live: number; readonly waitMs: number };

/**
 * Expiring leases, the one primitive behind semaphores, concurrency limits and tenant slots: a
 * sorted set per resource (member = lease id, score = expiry on the Redis clock), with at most
 * `limit` live leases. A holder that dies stops refreshing and its slot frees after `ttlMs`, with
 * no clean-up job. Each call is one script run by SHA; the same Lua is available to other scripts
 * as the `leases` include of {@link defineScript}. Arguments are checked before Redis is touched.
 *
 * @example
 * const { taken, waitMs } = await leases.take(redis, 'sem:openai', leaseId, 5, 30_000);
 * if (taken) { try { await work(); } finally { await leases.release(redis, 'sem:openai', leaseId); } }
 */
export const leases = {
  /** Takes one of `limit` slots of `key` for `ttlMs`, dropping expired leases first. */
  async take(client: ScriptClient, key: string, id: string, limit: number, ttlMs: number): Promise<LeaseTake> {
    checkInteger('limit', limit, 1);
    checkMs('ttlMs', ttlMs, 1);
    const [code, live] = await takeLeaseScript.run(client, [key], [id, limit, ttlMs]);
    return code > 0 ? { taken: true, live, waitMs: 0 } : { taken: false, live, waitMs: -code - 1 };
  },

  /** Moves the live lease `id` to expire `ttlMs` from now. @returns `false` when it is not held any more. */
  async refresh(client: ScriptClient, key: string, id: string, ttlMs: number): Promise<boolean> {
    checkMs('ttlMs', ttlMs, 1);
    return (await refreshLeaseScript.run(client, [key], [id, ttlMs])) === 1;
  },

  /**
   * Gives the lease `id` back; when it was live and `channel` is given, `PUBLISH`es there so a
   * waiter can try at once. @returns `false` when it had expired or was released before.
   */
  async release(client: ScriptClient, key: string, id: string, channel = ''): Promise<boolean> {
    return (await releaseLeaseScript.run(client, [key], [id, channel])) === 1;
  },

  /** How many leases of `key` are live now (read only). */
  async count(client: ScriptClient, key: string): Promise<number> {
    return countLeasesScript.run(client, [key], []);
  },
} as const;
