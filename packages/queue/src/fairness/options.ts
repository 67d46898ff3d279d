import { InvalidArgumentError, describeValue } from '@platform/redis';

/** A per-tenant rate on a queue: at most `max` jobs of one tenant handed out per `durationMs` (sliding window). */
export interface TenantRate {
  /** Jobs per window. */
  max: number;
  /** Window length in ms. */
  durationMs: number;
}

/** A value for every tenant, or a function of the tenant id (for per-plan overrides). */
export type PerTenant<T> = T | ((tenantId: string) => T);

/**
 * Options of fair scheduling, `fairness: { ... }` (see the README, "Fair scheduling across tenants").
 * Values are read by the producer when it enqueues a tenant's job and stored with the tenant, so
 * define the queue with the same options in producers and workers.
 */
export interface FairnessOptions {
  /**
   * Share of hand-outs per tenant: a weight-2 tenant gets twice the turns of a weight-1 tenant
   * while both have waiting jobs. A record (missing tenants get 1) or a function. Positive, at most 1000.
   * @defaultValue `1` for every tenant
   */
  weights?: Readonly<Record<string, number>> | ((tenantId: string) => number);
  /**
   * Most jobs of one tenant handed out (waiting in BullMQ or active) at once across every worker of
   * the queue; `0` means no limit. A slot is a lease that expires after `leaseMs` unless its
   * worker refreshes it, so a crashed worker never keeps it.
   * @defaultValue `0` (no limit)
   */
  maxActivePerTenant?: PerTenant<number>;
  /**
   * Per-tenant rate: jobs over it stay pending (other tenants go ahead). `undefined` for no rate.
   * @defaultValue `undefined` (no rate)
   */
  tenantRate?: PerTenant<TenantRate | undefined>;
  /**
   * Backlog cap: most jobs of one tenant pending in the fair backlog (enqueued, not yet handed to
   * BullMQ). An enqueue that would exceed it rejects with `TenantBacklogFullError` and writes
   * nothing. `0` means no cap. `setTenantLimits({ maxPending })` overrides it at runtime.
   * @defaultValue `0` (no cap)
   */
  maxPendingPerTenant?: PerTenant<number>;
  /**
   * Most jobs released into BullMQ's wait list and not yet started, for the whole queue. Smaller is
   * fairer (a new tenant waits behind at most this many jobs). By default it is twice the total
   * concurrency of the queue's live workers (each registers it with a heartbeat), so a new tenant's
   * first job starts within (2 x total concurrency + 1) hand-outs and a worker finds its next jobs
   * waiting while the dispatcher refills. A number fixes it.
   * @defaultValue twice the live workers' total concurrency (1 with no live worker)
   */
  window?: number;
  /**
   * Lifetime of a `maxActivePerTenant` slot unless refreshed (running jobs refresh it every
   * `leaseMs / 3`). After a worker crash the slot frees within this time; keep it close to the
   * workers' `lockDuration`.
   * @defaultValue `30000`
   */
  leaseMs?: number;
  /**
   * How often each worker runs a dispatch step on its own, and re-reads the tenant controls when
   * they changed (it also runs a step after every quarter window of job starts, when its queue
   * drains and when a job frees a `maxActivePerTenant` slot; producers run one after enqueueing
   * when the window has room).
   * @defaultValue `200`
   */
  pollMs?: number;
}

/** Defaults of {@link FairnessOptions}. */
export const defaultFairnessOptions = Object.freeze({
  /** `0`: twice the live workers' total concurrency. */
  window: 0,
  leaseMs: 30_000,
  pollMs: 200,
  weight: 1,
  maxActivePerTenant: 0,
  maxPendingPerTenant: 0,
});

/** The per-tenant settings stored with a tenant's pending jobs. */
export interface TenantSettings {
  weight: number;
  maxActive: number;
  rateMax: number;
  rateDurationMs: number;
  maxPending: number;
}

/** Fairness options after defaults and checks. */
export interface ResolvedFairness {
  /** `0`: the live workers' total concurrency. */
  readonly window: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  tenant(tenantId: string): TenantSettings;
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(name, `fairness.${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

function perTenant<T>(value: PerTenant<T> | undefined, tenantId: string): T | undefined {
  return typeof value === 'function' ? (value as (tenantId: string) => T)(tenantId) : value;
}

/** Applies the defaults and checks the options; per-tenant values are checked when used. */
export function resolveFairness(options: FairnessOptions = {}): ResolvedFairness {
  const window = options.window === undefined ? 0 : positiveInt('window', options.window, 1);
  const leaseMs = positiveInt('leaseMs', options.leaseMs ?? defaultFairnessOptions.leaseMs, 100);
  const pollMs = positiveInt('pollMs', options.pollMs ?? defaultFairnessOptions.pollMs, 10);
  const { weights, maxActivePerTenant, tenantRate, maxPendingPerTenant } = options;
  return {
    window,
    leaseMs,
    pollMs,
    tenant(tenantId) {
      // Own entries only: a tenant id such as `constructor` is not a weight the record inherits.
      const weight =
        typeof weights === 'function'
          ? weights(tenantId)
          : weights !== undefined && Object.hasOwn(weights, tenantId)
            ? (weights[tenantId] ?? defaultFairnessOptions.weight)
            : defaultFairnessOptions.weight;
      if (!(typeof weight === 'number' && weight > 0 && weight <= 1000)) {
        throw new InvalidArgumentError('weights', `weight of tenant ${tenantId} must be in (0, 1000], got ${weight}`);
      }
      const maxActive = positiveInt(
        'maxActivePerTenant',
        perTenant(maxActivePerTenant, tenantId) ?? defaultFairnessOptions.maxActivePerTenant,
        0,
      );
      const rate = perTenant(tenantRate, tenantId);
      if (rate !== undefined) {
        if (typeof rate !== 'object' || rate === null) {
          throw new InvalidArgumentError('tenantRate', `rate of tenant ${tenantId} must be { max, durationMs } or undefined, got ${describeValue(rate)}`);
        }
        positiveInt('tenantRate.max', rate.max, 1);
        positiveInt('tenantRate.durationMs', rate.durationMs, 1);
      }
      const maxPending = positiveInt(
        'maxPendingPerTenant',
        perTenant(maxPendingPerTenant, tenantId) ?? defaultFairnessOptions.maxPendingPerTenant,
        0,
      );
      return { weight, maxActive, rateMax: rate?.max ?? 0, rateDurationMs: rate?.durationMs ?? 0, maxPending };
    },
  };
}

/** The form stored in Redis (`weight|maxActive|rateMax|rateDurationMs|maxPending`). */
export function encodeTenantSettings(s: TenantSettings): string {
  return `${s.weight}|${s.maxActive}|${s.rateMax}|${s.rateDurationMs}|${s.maxPending}`;
}

/** The settings a stored `cfg` value holds (platform defaults for missing fields). */
export function decodeTenantSettings(cfg: string | null | undefined): TenantSettings {
  const [weight, maxActive, rateMax, rateDurationMs, maxPending] = (cfg ?? '').split('|').map((f) => Number(f));
  const or = (value: number | undefined, fallback: number): number => (value !== undefined && Number.isFinite(value) ? value : fallback);
  return {
    weight: or(weight, defaultFairnessOptions.weight) || defaultFairnessOptions.weight,
    maxActive: or(maxActive, 0),
    rateMax: or(rateMax, 0),
    rateDurationMs: or(rateDurationMs, 0),
    maxPending: or(maxPending, 0),
  };
}
