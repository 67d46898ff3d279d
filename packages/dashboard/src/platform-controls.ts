import {
  listTenantControls,
  pauseTenant,
  resetTenantLimits,
  resumeTenant,
  setTenantLimits,
  type TenantControlEntry,
  type TenantControlOptions,
} from '@platform/queue';
import type { RedisClient } from '@platform/redis';
import type { TenantControls, TenantControlState } from './controls';

/** Options of {@link platformTenantControls}. */
export interface PlatformTenantControlsOptions {
  /** Connection the controls are written and read with. */
  redis: RedisClient;
  /** BullMQ key prefix of the fair queues. @defaultValue `bull` (or `<REDIS_KEY_PREFIX>:bull`) */
  prefix?: string;
  /** Who the audit trail names for changes made here. @defaultValue `'dashboard'` */
  actor?: string;
}

function toState(tenantId: string, entries: readonly TenantControlEntry[]): TenantControlState {
  const paused = entries.filter((e) => e.paused);
  const state: TenantControlState = { tenantId, paused: paused.length > 0 };
  if (paused.length > 0) {
    state.pausedQueues = paused.map((e) => e.queue);
    const untils = paused.map((e) => e.paused!.untilMs);
    // A timed pause on every queue shows when the last one ends; any open-ended one shows none.
    if (untils.every((u) => u !== undefined)) state.pausedUntil = Math.max(...(untils as number[]));
  }
  const overrides: Record<string, number | string> = {};
  for (const { queue, override } of entries) {
    if (!override) continue;
    const { weight, maxActive, rate, maxPending } = override.values;
    const shown: Array<[string, number | string | undefined]> = [
      ['weight', weight],
      ['maxActive', maxActive],
      ['rate', rate === null ? 'none' : rate === undefined ? undefined : `${rate.max}/${rate.durationMs}ms`],
      ['maxPending', maxPending],
    ];
    for (const [name, value] of shown) {
      // With overrides on several queues, each is named by its queue.
      if (value !== undefined) overrides[entries.length > 1 ? `${queue}.${name}` : name] = value;
    }
  }
  if (Object.keys(overrides).length > 0) state.overrides = overrides;
  return state;
}

/**
 * The dashboard's {@link TenantControls} backed by `@platform/queue`'s runtime controls
 * (`pauseTenant`, `setTenantLimits`, ...): a button without a queue applies to every fair queue
 * registered under the prefix (`'all'`), and every change lands in the queues' audit streams.
 *
 * @example
 * createDashboard({ redis, controls: platformTenantControls({ redis }) });
 */
export function platformTenantControls(options: PlatformTenantControlsOptions): TenantControls {
  const common: TenantControlOptions = {
    connection: options.redis,
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    actor: options.actor ?? 'dashboard',
  };
  const target = (queue: string | undefined) => queue ?? 'all';
  const timed = (forMs: number | undefined) => (forMs !== undefined && forMs > 0 ? { forMs } : {});
  return {
    async pauseTenant(tenantId, { queue, forMs }) {
      await pauseTenant(target(queue), tenantId, { ...common, ...timed(forMs) });
    },
    async resumeTenant(tenantId, { queue }) {
      await resumeTenant(target(queue), tenantId, common);
    },
    async getTenantState(tenantId) {
      const entries = (await listTenantControls('all', common)).filter((e) => e.tenantId === tenantId);
      return toState(tenantId, entries);
    },
    async listControlledTenants() {
      const byTenant = new Map<string, TenantControlEntry[]>();
      for (const entry of await listTenantControls('all', common)) {
        byTenant.set(entry.tenantId, [...(byTenant.get(entry.tenantId) ?? []), entry]);
      }
      return [...byTenant.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([tenantId, entries]) => toState(tenantId, entries));
    },
    async setTenantLimits(tenantId, limits, { queue, forMs }) {
      await setTenantLimits(target(queue), tenantId, limits, { ...common, ...timed(forMs) });
    },
    async resetTenantLimits(tenantId, { queue }) {
      await resetTenantLimits(target(queue), tenantId, common);
    },
  };
}
