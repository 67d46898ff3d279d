import { hostname, userInfo } from 'node:os';
import {
  InvalidArgumentError,
  assertTenantId,
  bullPrefixFor,
  checkInteger,
  checkMs,
  describeValue,
  getSharedConnection,
  resolveKeyPrefix,
  type RedisClient,
} from '@platform/redis';
import { clusterQueuePrefix } from '@platform/redis/internal';
import type { QueueDefinition } from '../define-queue';
import { FairnessRequiredError } from '../errors';
import type { AnyObjectSchema } from '../payload';
import { fairKeys, fairRegistryKey, type FairKeys } from './keys';
import { decodeTenantSettings, type ResolvedFairness, type TenantRate } from './options';
import { fairSchedulerOf } from './scheduler';
import { fairScripts } from './scripts';

/** Audit stream of each fair queue: capped (XADD MAXLEN ~) and expiring this long after its last change. */
export const TENANT_AUDIT_DEFAULTS = Object.freeze({ maxLen: 10_000, ttlMs: 30 * 24 * 3_600_000 });

/** A queue definition, a queue name, a list of them, or `'all'` (every fair queue registered under the prefix). */
export type TenantControlTarget =
  | QueueDefinition<AnyObjectSchema>
  | string
  | readonly (QueueDefinition<AnyObjectSchema> | string)[]
  | 'all';

/** Where a control is written, and by whom. */
export interface TenantControlOptions {
  /**
   * Connection for queue names and `'all'` (a definition uses its own producer connection).
   * @defaultValue the process-wide shared `producer` connection
   */
  connection?: RedisClient;
  /** BullMQ prefix for queue names and `'all'`. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)` */
  prefix?: string;
  /** Who makes the change, for the audit stream. @defaultValue `PLATFORM_ACTOR`, else `<user>@<host>` */
  actor?: string;
}

/** Options of a control that may end by itself. */
export interface TimedControlOptions extends TenantControlOptions {
  /** Ends the pause / override after this many ms. @defaultValue until `resumeTenant` / `resetTenantLimits` */
  forMs?: number;
}

/** The values `setTenantLimits` overrides; the fields left out keep the code's values. */
export interface TenantLimitsOverride {
  /** Share of hand-outs, in (0, 1000]. */
  weight?: number;
  /** Most jobs handed out or active at once (0 = no limit). */
  maxActive?: number;
  /** Per-tenant rate of hand-outs; `null` for no rate. */
  rate?: TenantRate | null;
  /** Backlog cap: most jobs pending in the fair backlog (0 = no cap). */
  maxPending?: number;
}

/** One queue's answer to a control call. */
export interface TenantControlChange {
  queue: string;
  tenantId: string;
  action: TenantControlAction;
  /** When Redis applied it (ms, Redis clock). */
  atMs: number;
  /** The changed part of the controls before (pause or override), `undefined` when there was none. */
  previous: TenantPauseState | TenantOverrideState | undefined;
  /** The same part after. */
  current: TenantPauseState | TenantOverrideState | undefined;
}

export type TenantControlAction = 'pause' | 'resume' | 'set-limits' | 'reset';

/** A tenant's pause. */
export interface TenantPauseState {
  atMs: number;
  by: string;
  /** When it resumes by itself; `undefined`: at `resumeTenant`. */
  untilMs: number | undefined;
}

/** A tenant's override of the code's limits. */
export interface TenantOverrideState {
  atMs: number;
  by: string;
  /** When it ends by itself; `undefined`: at `resetTenantLimits`. */
  untilMs: number | undefined;
  values: TenantLimitsOverride;
}

/** One effective value and where it comes from. */
export interface TenantLimitValue<T> {
  value: T;
  /** `code`: the queue's fairness options (or the tenant's stored settings / platform defaults for a queue named by string); `override`: `setTenantLimits`. */
  source: 'code' | 'override';
  /** When the override ends (ms), for `source: 'override'` with `forMs`. */
  expiresAtMs?: number;
}

/** What {@link getTenantLimits} answers. */
export interface TenantLimits {
  queue: string;
  tenantId: string;
  weight: TenantLimitValue<number>;
  maxActive: TenantLimitValue<number>;
  rate: TenantLimitValue<TenantRate | undefined>;
  maxPending: TenantLimitValue<number>;
  /** The live override, `undefined` when none (or it expired). */
  override: TenantOverrideState | undefined;
  /** The live pause, `undefined` when the tenant runs. */
  paused: TenantPauseState | undefined;
}

/** One entry of a queue's audit stream. */
export interface TenantAuditEntry {
  /** Stream entry id. */
  id: string;
  queue: string;
  tenantId: string;
  action: TenantControlAction;
  by: string;
  atMs: number;
  value: TenantPauseState | TenantOverrideState | undefined;
  previous: TenantPauseState | TenantOverrideState | undefined;
}

interface ResolvedQueue {
  name: string;
  keys: FairKeys;
  client: RedisClient;
  settings: ResolvedFairness | undefined;
  register: () => Promise<void>;
}

function defaultActor(): string {
  const fromEnv = process.env.PLATFORM_ACTOR?.trim();
  if (fromEnv) return fromEnv;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `pid ${process.pid}@${hostname()}`;
  }
}

function isDefinition(value: unknown): value is QueueDefinition<AnyObjectSchema> {
  return typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string' && 'settings' in value;
}

async function resolveTargets(target: TenantControlTarget, options: TenantControlOptions, call: string): Promise<ResolvedQueue[]> {
  const prefix = options.prefix ?? bullPrefixFor(resolveKeyPrefix());
  const connection = (): RedisClient => options.connection ?? getSharedConnection('producer');
  // The registry lists queue names under the base prefix; on a cluster each queue's keys carry its hash tag.
  const keysOf = (client: RedisClient, name: string): FairKeys => fairKeys(client.isCluster ? clusterQueuePrefix(prefix, name) : prefix, name);
  const byName = async (name: string): Promise<ResolvedQueue> => {
    const client = connection();
    if ((await client.sismember(fairRegistryKey(prefix), name)) !== 1) {
      throw new FairnessRequiredError(name, ` (no producer or worker with fairness has registered it under the prefix ${prefix})`);
    }
    return { name, keys: keysOf(client, name), client, settings: undefined, register: async () => undefined };
  };
  const one = async (item: unknown): Promise<ResolvedQueue> => {
    if (typeof item === 'string') return byName(item);
    if (!isDefinition(item)) throw new InvalidArgumentError('target', `${call}: expected a queue definition, a queue name, an array of them or 'all', got ${describeValue(item)}`);
    const scheduler = fairSchedulerOf(item);
    if (!scheduler) throw new FairnessRequiredError(item.name);
    return { name: item.name, keys: scheduler.keys, client: scheduler.client(), settings: scheduler.settings, register: scheduler.register };
  };
  if (target === 'all') {
    const names = (await connection().smembers(fairRegistryKey(prefix))).sort();
    return names.map((name) => ({ name, keys: keysOf(connection(), name), client: connection(), settings: undefined, register: async () => undefined }));
  }
  if (Array.isArray(target)) return Promise.all((target as readonly unknown[]).map(one));
  return [await one(target)];
}

function parseState<T>(json: string | undefined | null): T | undefined {
  if (!json) return undefined;
  const value = JSON.parse(json) as Record<string, unknown>;
  return { untilMs: undefined, ...value } as T;
}

async function applyControl(
  call: string,
  target: TenantControlTarget,
  tenantId: string,
  action: TenantControlAction,
  forMs: number | undefined,
  values: Record<string, number> | undefined,
  options: TenantControlOptions,
): Promise<TenantControlChange[]> {
  assertTenantId(tenantId);
  if (forMs !== undefined) checkMs('forMs', forMs, 1);
  const actor = (options.actor ?? defaultActor()).slice(0, 200);
  const queues = await resolveTargets(target, options, call);
  return Promise.all(
    queues.map(async (queue) => {
      await queue.register();
      const { keys } = queue;
      const [previous, current, at] = await fairScripts.control.run(
        queue.client,
        [keys.ctl, keys.ctlVersion, keys.blocked, keys.ready, keys.pass, keys.audit],
        [tenantId, action, forMs ?? 0, JSON.stringify(values ?? {}), actor, TENANT_AUDIT_DEFAULTS.maxLen, TENANT_AUDIT_DEFAULTS.ttlMs],
      );
      return {
        queue: queue.name,
        tenantId,
        action,
        atMs: Number(at),
        previous: parseState<TenantPauseState | TenantOverrideState>(previous),
        current: parseState<TenantPauseState | TenantOverrideState>(current),
      };
    }),
  );
}

/**
 * Pauses a tenant on a fair queue (a definition, a queue name, an array, or `'all'`): its pending
 * jobs are not handed out, jobs of it already released to BullMQ are re-delayed when they come up
 * (no attempt spent), its active jobs finish; other tenants are unaffected. Producers and workers
 * apply it within one dispatch step (`pollMs`); with `forMs` it resumes by itself.
 * @throws FairnessRequiredError for a queue without fair scheduling
 */
export function pauseTenant(target: TenantControlTarget, tenantId: string, options: TimedControlOptions = {}): Promise<TenantControlChange[]> {
  return applyControl('pauseTenant', target, tenantId, 'pause', options.forMs, undefined, options);
}

/** Ends a tenant's pause (see {@link pauseTenant}); its jobs are handed out at the next dispatch step. */
export function resumeTenant(target: TenantControlTarget, tenantId: string, options: TenantControlOptions = {}): Promise<TenantControlChange[]> {
  return applyControl('resumeTenant', target, tenantId, 'resume', undefined, undefined, options);
}

function checkOverride(limits: TenantLimitsOverride): Record<string, number> {
  if (typeof limits !== 'object' || limits === null) throw new InvalidArgumentError('limits', `must be an object, got ${describeValue(limits)}`);
  const values: Record<string, number> = {};
  const { weight, maxActive, rate, maxPending } = limits;
  if (weight !== undefined) {
    if (!(typeof weight === 'number' && weight > 0 && weight <= 1000)) throw new InvalidArgumentError('weight', `must be in (0, 1000], got ${describeValue(weight)}`);
    values.weight = weight;
  }
  if (maxActive !== undefined) values.maxActive = checkInteger('maxActive', maxActive, 0);
  if (rate === null) {
    values.rateMax = 0;
    values.rateDurationMs = 0;
  } else if (rate !== undefined) {
    values.rateMax = checkInteger('rate.max', rate.max, 1);
    values.rateDurationMs = checkInteger('rate.durationMs', rate.durationMs, 1);
  }
  if (maxPending !== undefined) values.maxPending = checkInteger('maxPending', maxPending, 0);
  if (Object.keys(values).length === 0) {
    throw new InvalidArgumentError('limits', 'give at least one of weight, maxActive, rate, maxPending (resetTenantLimits removes the override)');
  }
  return values;
}

/**
 * Overrides the code's limits for one tenant (replacing any earlier override; fields left out keep
 * the code's values), optionally for `forMs`. Applied at the next dispatch step and by workers
 * within `pollMs`; jobs already running are not stopped.
 */
export async function setTenantLimits(
  target: TenantControlTarget,
  tenantId: string,
  limits: TenantLimitsOverride,
  options: TimedControlOptions = {},
): Promise<TenantControlChange[]> {
  const values = checkOverride(limits);
  return applyControl('setTenantLimits', target, tenantId, 'set-limits', options.forMs, values, options);
}

/** Removes a tenant's override: the code's limits apply again. */
export function resetTenantLimits(target: TenantControlTarget, tenantId: string, options: TenantControlOptions = {}): Promise<TenantControlChange[]> {
  return applyControl('resetTenantLimits', target, tenantId, 'reset', undefined, undefined, options);
}

interface StoredControls {
  pause?: { atMs: number; by: string; untilMs?: number };
  limits?: { atMs: number; by: string; untilMs?: number; values: Record<string, number> };
}

function toOverride(values: Record<string, number>): TenantLimitsOverride {
  const out: TenantLimitsOverride = {};
  if (values.weight !== undefined) out.weight = values.weight;
  if (values.maxActive !== undefined) out.maxActive = values.maxActive;
  if (values.rateMax !== undefined) out.rate = values.rateMax > 0 ? { max: values.rateMax, durationMs: values.rateDurationMs ?? 0 } : null;
  if (values.maxPending !== undefined) out.maxPending = values.maxPending;
  return out;
}

/** The live parts of a stored controls value at `now` (expired ones dropped). */
export function liveControls(json: string | null | undefined, now: number): { paused?: TenantPauseState; override?: TenantOverrideState } {
  if (!json) return {};
  const stored = JSON.parse(json) as StoredControls;
  const live = (until: number | undefined): boolean => until === undefined || until > now;
  const result: { paused?: TenantPauseState; override?: TenantOverrideState } = {};
  if (stored.pause && live(stored.pause.untilMs)) result.paused = { atMs: stored.pause.atMs, by: stored.pause.by, untilMs: stored.pause.untilMs };
  if (stored.limits && live(stored.limits.untilMs)) {
    result.override = { atMs: stored.limits.atMs, by: stored.limits.by, untilMs: stored.limits.untilMs, values: toOverride(stored.limits.values) };
  }
  return result;
}

/**
 * The effective limits of one tenant on one fair queue and where each comes from (the code, or an
 * override and when it expires), plus its pause. For a queue named by string, the code's values are
 * the tenant's settings stored by the last producer that enqueued for it (else the platform defaults).
 */
export async function getTenantLimits(
  target: QueueDefinition<AnyObjectSchema> | string,
  tenantId: string,
  options: TenantControlOptions = {},
): Promise<TenantLimits> {
  assertTenantId(tenantId);
  const [queue] = await resolveTargets(target, options, 'getTenantLimits');
  const { keys, client } = queue!;
  const replies = (await client.multi().hget(keys.ctl, tenantId).hget(keys.cfg, tenantId).time().exec()) ?? [];
  const [ctlJson, cfg, time] = replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  }) as [string | null, string | null, [string, string]];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const code = queue!.settings ? queue!.settings.tenant(tenantId) : decodeTenantSettings(cfg);
  const { paused, override } = liveControls(ctlJson, now);
  // `set`: whether the override gives the value (a removed rate, `rate: null`, is given as no rate).
  const pick = <T>(overridden: T | undefined, fallback: T, set = overridden !== undefined): TenantLimitValue<T> =>
    override && set
      ? { value: overridden as T, source: 'override', ...(override.untilMs !== undefined ? { expiresAtMs: override.untilMs } : {}) }
      : { value: fallback, source: 'code' };
  const o = override?.values ?? {};
  return {
    queue: queue!.name,
    tenantId,
    weight: pick(o.weight, code.weight),
    maxActive: pick(o.maxActive, code.maxActive),
    rate: pick<TenantRate | undefined>(o.rate ?? undefined, code.rateMax > 0 ? { max: code.rateMax, durationMs: code.rateDurationMs } : undefined, o.rate !== undefined),
    maxPending: pick(o.maxPending, code.maxPending),
    override,
    paused,
  };
}

/**
 * The audit trail of tenant controls (who, when, what, previous value), newest first, from the
 * audit stream of each target queue (capped at `TENANT_AUDIT_DEFAULTS.maxLen` entries per queue,
 * kept `ttlMs` after the last change).
 */
export async function getTenantAudit(
  target: TenantControlTarget,
  options: TenantControlOptions & { tenantId?: string; count?: number } = {},
): Promise<TenantAuditEntry[]> {
  const count = checkInteger('count', options.count ?? 100, 1);
  if (options.tenantId !== undefined) assertTenantId(options.tenantId);
  const queues = await resolveTargets(target, options, 'getTenantAudit');
  const all = await Promise.all(
    queues.map(async (queue) => {
      // Filtering by tenant reads further back than `count`, bounded by the stream's cap.
      const raw = await queue.client.xrevrange(queue.keys.audit, '+', '-', 'COUNT', options.tenantId ? TENANT_AUDIT_DEFAULTS.maxLen : count);
      return raw.map(([id, fields]): TenantAuditEntry => {
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
        return {
          id,
          queue: queue.name,
          tenantId: f.tenant ?? '',
          action: f.action as TenantControlAction,
          by: f.by ?? '',
          atMs: Number(f.atMs),
          value: parseState(f.value),
          previous: parseState(f.previous),
        };
      });
    }),
  );
  return all
    .flat()
    .filter((entry) => options.tenantId === undefined || entry.tenantId === options.tenantId)
    .sort((a, b) => b.atMs - a.atMs || (a.id < b.id ? 1 : -1))
    .slice(0, count);
}

/** One tenant's live controls on one queue, as {@link listTenantControls} answers. */
export interface TenantControlEntry {
  queue: string;
  tenantId: string;
  paused: TenantPauseState | undefined;
  override: TenantOverrideState | undefined;
}

/**
 * Every tenant with a live pause or override on the target queues (one HGETALL per queue), sorted
 * by queue then tenant: what an operator's tenant list shows beside backlog and wait.
 */
export async function listTenantControls(target: TenantControlTarget, options: TenantControlOptions = {}): Promise<TenantControlEntry[]> {
  const queues = await resolveTargets(target, options, 'listTenantControls');
  const perQueue = await Promise.all(
    queues.map(async ({ name, keys, client }) => {
      const [all, time] = await Promise.all([client.hgetall(keys.ctl), client.time()]);
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
      return Object.entries(all)
        .map(([tenantId, json]) => ({ queue: name, tenantId, ...liveControls(json, now) }))
        .filter((entry) => entry.paused || entry.override)
        .map(({ queue, tenantId, paused, override }) => ({ queue, tenantId, paused, override }));
    }),
  );
  return perQueue.flat().sort((a, b) => (a.queue === b.queue ? (a.tenantId < b.tenantId ? -1 : 1) : a.queue < b.queue ? -1 : 1));
}
