/**
 * The tenant controls the dashboard's buttons call. The dashboard does not implement them: a
 * service passes an implementation (`createDashboard({ controls })`), and without one the tenant
 * pages show no pause/resume/limit buttons. `queue` is a full queue name; without it a call applies
 * to every queue.
 */
export interface TenantControls {
  /** Stops handing out the tenant's pending jobs (active ones finish); with `forMs`, resumes by itself. */
  pauseTenant(tenantId: string, options: { queue?: string; forMs?: number }): Promise<void>;
  /** Undoes {@link TenantControls.pauseTenant}. */
  resumeTenant(tenantId: string, options: { queue?: string }): Promise<void>;
  /** The tenant's current control state. */
  getTenantState(tenantId: string): Promise<TenantControlState>;
  /**
   * Every tenant whose state differs from the defaults (paused or with overrides), for the tenants
   * table. @defaultValue not called: the table shows no paused/overrides columns
   */
  listControlledTenants?(): Promise<TenantControlState[]>;
  /** Overrides the tenant's limits, optionally for `forMs`. Without it the limits form is not shown. */
  setTenantLimits?(tenantId: string, limits: TenantLimits, options: { queue?: string; forMs?: number }): Promise<void>;
  /** Drops the tenant's overrides. */
  resetTenantLimits?(tenantId: string, options: { queue?: string }): Promise<void>;
}

/** Limits a tenant can be given at run time (all optional: only those given are overridden). */
export interface TenantLimits {
  /** Share of hand-outs relative to other tenants. */
  weight?: number;
  /** Most of its jobs running at once. */
  maxActive?: number;
  /** Most of its jobs pending; an enqueue beyond it is refused. */
  maxPending?: number;
}

/** A tenant's control state as {@link TenantControls} reports it. */
export interface TenantControlState {
  tenantId: string;
  paused: boolean;
  /** When a timed pause ends (ms since the epoch). */
  pausedUntil?: number;
  /** Queues the pause applies to; absent or empty for every queue. */
  pausedQueues?: readonly string[];
  /** Overridden limits (name to value), shown as they are. */
  overrides?: Readonly<Record<string, number | string>>;
}

/** The limit names {@link TenantLimits} accepts, in the order the form shows them. */
export const TENANT_LIMIT_NAMES = ['weight', 'maxActive', 'maxPending'] as const;
