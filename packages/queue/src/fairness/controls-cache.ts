import type { RedisClient } from '@platform/redis';
import type { FairKeys } from './keys';

/**
 * A worker's view of which tenants have runtime controls that a worker must check when a job
 * starts (a pause, or an override of `maxActive` or the rate), re-read only when `ctlver` moves.
 * An override of only `weight` or `maxPending` acts at enqueue and hand-out, so a job of such a
 * tenant starts on the fast path (no script), as one without controls does.
 */
export interface ControlsCache {
  /** Whether the tenant had a pause or a `maxActive`/rate override (possibly expired) at the last refresh. */
  has(tenantId: string): boolean;
  /** The `ctlver` the view was read at (`undefined` before the first refresh). */
  version(): string | null | undefined;
  /** One GET; one HGETALL when the controls changed since the last refresh. */
  refresh(): Promise<void>;
}

/** Whether a stored controls value (the `ctl` hash's JSON) holds anything a starting job must be checked against. */
export function needsStartCheck(json: string): boolean {
  let stored: { pause?: unknown; limits?: { values?: Record<string, unknown> } };
  try {
    stored = JSON.parse(json) as typeof stored;
  } catch {
    return true; // unreadable: let the script decide
  }
  if (typeof stored !== 'object' || stored === null) return true;
  if (stored.pause !== undefined) return true;
  const values = stored.limits?.values;
  if (stored.limits !== undefined && (typeof values !== 'object' || values === null)) return true;
  return values !== undefined && Object.keys(values).some((key) => key !== 'weight' && key !== 'maxPending');
}

export function createControlsCache(keys: FairKeys, client: () => RedisClient): ControlsCache {
  let version: string | null | undefined;
  let tenants = new Set<string>();
  return {
    has: (tenantId) => tenants.has(tenantId),
    version: () => version,
    async refresh() {
      const redis = client();
      const current = await redis.get(keys.ctlVersion);
      if (current === version) return;
      const all = await redis.hgetall(keys.ctl);
      tenants = new Set(Object.keys(all).filter((tenantId) => needsStartCheck(all[tenantId]!)));
      version = current;
    },
  };
}
