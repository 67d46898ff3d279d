import { InvalidArgumentError, checkInteger, checkNumber, describeValue } from '@platform/redis';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';

/** How a notification is retried. Every field is optional; missing ones come from the defaults. */
export interface RetryPolicy {
  /** Attempts in all (the first one included). @defaultValue `25` */
  attempts?: number;
  /** Delay after the first failed attempt; it doubles with every further one. @defaultValue `5000` */
  delayMs?: number;
  /** Cap of one step (one delay between two attempts). @defaultValue `1800000` (30 min) */
  maxDelayMs?: number;
  /** Share of each delay that is random: the wait is in `[d * (1 - jitter), d]`. @defaultValue `0.2` */
  jitter?: number;
  /**
   * Drop the notification when it is still undelivered this long after it was queued: it is
   * recorded as `expired`, not failed, and never sent. @defaultValue none (never expires)
   */
  expireAfterMs?: number;
}

/** {@link RetryPolicy} for all notifications, with overrides per channel and per type (type wins). */
export interface RetryPolicyOptions extends RetryPolicy {
  /** Overrides per channel, e.g. `{ sms: { attempts: 10 } }`. @defaultValue none */
  byChannel?: Partial<Record<NotificationChannel, RetryPolicy>>;
  /** Overrides per notification type, e.g. `{ 'password-reset': { expireAfterMs: 900000 } }`. @defaultValue none */
  byType?: Record<string, RetryPolicy>;
}

/** A policy with every field resolved. */
export interface ResolvedRetryPolicy {
  attempts: number;
  delayMs: number;
  maxDelayMs: number;
  jitter: number;
  expireAfterMs: number | undefined;
}

/**
 * The default policy: 25 attempts, 5 s doubling to at most 30 min per step, jitter 0.2. From the
 * first attempt to the last is 6.5 to 8.2 hours (6.5 h when every delay draws its lowest value),
 * so a provider outage of a few hours delays notifications instead of failing them.
 */
export const defaultRetryPolicy: Readonly<Omit<ResolvedRetryPolicy, 'expireAfterMs'>> = Object.freeze({
  attempts: 25,
  delayMs: 5000,
  maxDelayMs: 30 * 60_000,
  jitter: 0.2,
});

/** `value` if it is a plain object (not null, not an array), else `InvalidArgumentError` naming `argument`. */
export function checkOptionsObject<T extends object>(argument: string, value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `must be an object, got ${describeValue(value)}`);
  }
  return value as T;
}

/** Provider names: 1–64 of `[A-Za-z0-9_.-]` (they are part of Redis keys and metric labels). */
export function checkProviderName(argument: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new InvalidArgumentError(argument, `must be 1-64 of letters, digits, "_", "." or "-", got ${describeValue(value)}`);
  }
  return value;
}

const FIELDS = ['attempts', 'delayMs', 'maxDelayMs', 'jitter', 'expireAfterMs'] as const;

function checkPolicy(name: string, policy: unknown): RetryPolicy {
  const value = checkOptionsObject<RetryPolicy & Record<string, unknown>>(name, policy);
  for (const key of Object.keys(value)) {
    if (!(FIELDS as readonly string[]).includes(key) && key !== 'byChannel' && key !== 'byType') {
      throw new InvalidArgumentError(`${name}.${key}`, `is not a retry policy option (${FIELDS.join(', ')})`);
    }
  }
  if (value.attempts !== undefined) checkInteger(`${name}.attempts`, value.attempts, 1, 1000);
  if (value.delayMs !== undefined) checkInteger(`${name}.delayMs`, value.delayMs, 0);
  if (value.maxDelayMs !== undefined) checkInteger(`${name}.maxDelayMs`, value.maxDelayMs, 0);
  if (value.jitter !== undefined) checkNumber(`${name}.jitter`, value.jitter, 0, 1);
  if (value.expireAfterMs !== undefined) checkInteger(`${name}.expireAfterMs`, value.expireAfterMs, 1);
  return value;
}

/**
 * The policy for one notification: defaults, then `options`, then `options.byChannel[channel]`,
 * then `options.byType[type]`. Throws `InvalidArgumentError` for a bad value.
 */
export function resolveRetryPolicy(channel: NotificationChannel, type: string, options?: RetryPolicyOptions): ResolvedRetryPolicy {
  // No options: the defaults, one frozen object (read only; a job gets its own backoff object).
  if (options === undefined) return DEFAULT_RESOLVED;
  checkPolicy('retry', options);
  const layers: RetryPolicy[] = [options];
  if (options.byChannel !== undefined) {
    const byChannel = checkOptionsObject<Record<string, unknown>>('retry.byChannel', options.byChannel);
    for (const key of Object.keys(byChannel)) {
      if (!(NOTIFICATION_CHANNELS as readonly string[]).includes(key)) {
        throw new InvalidArgumentError('retry.byChannel', `unknown channel ${describeValue(key)}`);
      }
    }
    const own = options.byChannel[channel];
    if (own !== undefined) layers.push(checkPolicy(`retry.byChannel.${channel}`, own));
  }
  if (options.byType !== undefined) {
    checkOptionsObject('retry.byType', options.byType);
    const own = Object.prototype.hasOwnProperty.call(options.byType, type) ? options.byType[type] : undefined;
    if (own !== undefined) layers.push(checkPolicy(`retry.byType.${type}`, own));
  }
  const resolved: ResolvedRetryPolicy = { ...defaultRetryPolicy, expireAfterMs: undefined };
  for (const layer of layers) {
    for (const field of FIELDS) {
      const value = layer[field];
      if (value !== undefined) (resolved as unknown as Record<string, number>)[field] = value;
    }
  }
  return resolved;
}

const DEFAULT_RESOLVED: ResolvedRetryPolicy = Object.freeze({ ...defaultRetryPolicy, expireAfterMs: undefined });

/**
 * The wait before the next attempt after `attemptsMade` failed ones (1, 2, …): `delayMs` doubled
 * `attemptsMade - 1` times, capped at `maxDelayMs`, minus a random share up to `jitter`.
 */
export function retryDelayMs(policy: Pick<ResolvedRetryPolicy, 'delayMs' | 'maxDelayMs' | 'jitter'>, attemptsMade: number, random: () => number = Math.random): number {
  const full = Math.min(policy.delayMs * 2 ** Math.min(Math.max(0, attemptsMade - 1), 52), policy.maxDelayMs);
  return Math.round(full * (1 - policy.jitter * random()));
}

/** The shortest and longest time from the first attempt to the last one under `policy`. */
export function retrySpanMs(policy: Pick<ResolvedRetryPolicy, 'attempts' | 'delayMs' | 'maxDelayMs' | 'jitter'>): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (let n = 1; n < policy.attempts; n++) {
    min += retryDelayMs(policy, n, () => 1);
    max += retryDelayMs(policy, n, () => 0);
  }
  return { min, max };
}

/** BullMQ backoff type of notification jobs; the worker installs its strategy. */
export const NOTIFICATION_BACKOFF_TYPE = 'notification';

/**
 * What a notification job carries in `opts.backoff`: BullMQ's `type` and `delay`, plus the rest of
 * its policy, so any worker retries it the way the producer asked.
 */
export interface NotificationBackoff {
  type: typeof NOTIFICATION_BACKOFF_TYPE;
  delay: number;
  maxDelay: number;
  jitter: number;
  /** Epoch ms after which the notification is dropped as expired. */
  expireAt?: number;
  /**
   * How long the worker keeps the status record it creates on its first touch of the job (the
   * dedupe window of `notifyOnce`), in ms; absent for the default, `DEFAULT_STATUS_TTL_MS` (24 h).
   */
  statusTtl?: number;
}

/**
 * The job's `opts.backoff` for a policy, with `expireAt` counted from `queuedAtMs`, and `statusTtl`
 * when one is given.
 */
export function backoffFor(policy: ResolvedRetryPolicy, queuedAtMs: number, statusTtlMs?: number): NotificationBackoff {
  const backoff: NotificationBackoff = { type: NOTIFICATION_BACKOFF_TYPE, delay: policy.delayMs, maxDelay: policy.maxDelayMs, jitter: policy.jitter };
  if (policy.expireAfterMs !== undefined) backoff.expireAt = queuedAtMs + policy.expireAfterMs;
  if (statusTtlMs !== undefined) backoff.statusTtl = statusTtlMs;
  return backoff;
}

/** The notification backoff a job carries, if it was queued by `notifyOnce`. */
export function backoffOf(opts: { backoff?: unknown }): Partial<NotificationBackoff> {
  const backoff = opts.backoff;
  if (typeof backoff !== 'object' || backoff === null) return {};
  const { type, delay, maxDelay, jitter, expireAt, statusTtl } = backoff as Record<string, unknown>;
  if (type !== NOTIFICATION_BACKOFF_TYPE) return {};
  const out: Partial<NotificationBackoff> = {};
  if (typeof delay === 'number' && Number.isFinite(delay)) out.delay = delay;
  if (typeof maxDelay === 'number' && Number.isFinite(maxDelay)) out.maxDelay = maxDelay;
  if (typeof jitter === 'number' && jitter >= 0 && jitter <= 1) out.jitter = jitter;
  if (typeof expireAt === 'number' && Number.isFinite(expireAt)) out.expireAt = expireAt;
  if (typeof statusTtl === 'number' && Number.isInteger(statusTtl) && statusTtl > 0) out.statusTtl = statusTtl;
  return out;
}
