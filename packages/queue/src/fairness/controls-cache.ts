import type { RedisClient } from '@platform/redis';
import type { FairKeys } from './keys';

/** A worker's view of which tenants have runtime controls, re-read only when `ctlver` moves. */
export interface ControlsCache {
  /** Whether the tenant had a control (pause or override, possibly expired) at the last refresh. */
  has(tenantId: string): boolean;
  /** The `ctlver` the view was read at (`undefined` before the first refresh). */
  version(): string | null | undefined;
  /** One GET; one HKEYS when the controls changed since the last refresh. */
  refresh(): Promise<void>;
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
      tenants = new Set(await redis.hkeys(keys.ctl));
      version = current;
    },
  };
}
