import { checkInteger, getSharedConnection, namespacedKey, resolveKeyPrefix, toUnavailableError, type RedisClient } from '@platform/redis';
import { NOTIFICATION_CHANNELS, type NotificationChannel } from '@platform/queue';
import { InvalidArgumentError } from '@platform/redis';
import { scanKeys } from '@platform/redis/internal';
import { checkOptionsObject, checkProviderName } from './retry';
import { circuitAllowScript, circuitFailureScript, circuitSuccessScript } from './scripts';

/** A provider's circuit breaker, shared by every worker of the channel through Redis. */
export interface CircuitBreakerOptions {
  /** Consecutive retryable failures (5xx, 408, no answer) that open the breaker. @defaultValue `5` */
  failureThreshold?: number;
  /** How long an open breaker holds jobs before one probe job may call the provider. @defaultValue `15000` */
  openMs?: number;
  /** A probe without an outcome this long lets another job probe. @defaultValue `30000` */
  probeTimeoutMs?: number;
}

/** Defaults of {@link CircuitBreakerOptions}. */
export const defaultCircuitBreaker = Object.freeze({ failureThreshold: 5, openMs: 15_000, probeTimeoutMs: 30_000 });

/** Breaker hashes of providers nobody calls any more vanish after this long. */
const BREAKER_TTL_MS = 7 * 86_400_000;

/** The breaker's key: `notify-circuit:{channel}:{provider}` behind the key prefix. */
export function circuitKey(keyPrefix: string, channel: NotificationChannel, provider: string): string {
  return namespacedKey(keyPrefix, 'notify-circuit', channel, provider);
}

/** What a worker does with the breaker around one provider call. */
export interface CircuitBreaker {
  /** `{ allowed: true, probe }` to call the provider; `{ allowed: false, waitMs }` to hold the job. */
  allow(): Promise<{ allowed: true; probe: boolean } | { allowed: false; waitMs: number }>;
  /** The provider answered (delivered or refused for good). */
  success(): Promise<void>;
  /**
   * A retryable failure; `open: true` with the time to hold the job when the breaker is open.
   * `probe`: whether the call was let through as the probe; only a probe's failure ends a running
   * probe (a call that started before the breaker opened passes `false`). @defaultValue `true`
   */
  failure(reason: string, probe?: boolean): Promise<{ open: boolean; waitMs: number }>;
}

/** Validates the options and returns them with defaults applied. */
export function resolveCircuitBreaker(options: CircuitBreakerOptions = {}): Required<CircuitBreakerOptions> {
  checkOptionsObject('circuitBreaker', options);
  return {
    failureThreshold: checkInteger('circuitBreaker.failureThreshold', options.failureThreshold ?? defaultCircuitBreaker.failureThreshold, 1),
    openMs: checkInteger('circuitBreaker.openMs', options.openMs ?? defaultCircuitBreaker.openMs, 1),
    probeTimeoutMs: checkInteger('circuitBreaker.probeTimeoutMs', options.probeTimeoutMs ?? defaultCircuitBreaker.probeTimeoutMs, 1),
  };
}

/** The breaker of one channel and provider on `redis`. */
export function createCircuitBreaker(redis: RedisClient, key: string, settings: Required<CircuitBreakerOptions>): CircuitBreaker {
  return {
    async allow() {
      const [decision, waitMs] = await circuitAllowScript.run(redis, [key], [settings.probeTimeoutMs, BREAKER_TTL_MS]);
      if (Number(decision) === 0) return { allowed: false, waitMs: Number(waitMs) };
      return { allowed: true, probe: Number(decision) === 2 };
    },
    async success() {
      await circuitSuccessScript.run(redis, [key], [BREAKER_TTL_MS]);
    },
    async failure(reason, probe = true) {
      const [open, waitMs] = await circuitFailureScript.run(redis, [key], [settings.failureThreshold, settings.openMs, BREAKER_TTL_MS, reason.slice(0, 300), probe ? '1' : '0']);
      return { open: Number(open) === 1, waitMs: Number(waitMs) };
    },
  };
}

/** A provider's health as its circuit breaker sees it. */
export interface ProviderHealth {
  channel: NotificationChannel;
  provider: string;
  /** `closed`: calls go through; `open`: jobs are held; `half-open`: one probe job is calling. */
  state: 'closed' | 'open' | 'half-open';
  /** Retryable failures in a row (since the last answer). */
  consecutiveFailures: number;
  /** How often the breaker opened from closed. */
  trips: number;
  /** How many probe calls were let through. */
  probes: number;
  /** While open: when the next probe may go, ms since the epoch (Redis time). */
  openUntil?: number;
  /** The last retryable failure's reason. */
  lastError?: string;
  /** When the state last changed, ms since the epoch (Redis time). */
  changedAt?: number;
}

/** Options of {@link getProviderHealth}. */
export interface ProviderHealthOptions {
  /** Redis to read from. @defaultValue the shared `producer` connection */
  connection?: RedisClient;
  /** Key prefix (must match the workers'). @defaultValue `REDIS_KEY_PREFIX`, else `''` */
  keyPrefix?: string;
}

/**
 * The health of a channel's provider (its circuit breaker's state, failures, trips and probes).
 * A provider no worker has called (or that has been healthy for 7 days) reads as closed.
 * Rejects with `RedisUnavailableError` when Redis cannot be reached.
 */
export async function getProviderHealth(channel: NotificationChannel, provider: string, options: ProviderHealthOptions = {}): Promise<ProviderHealth> {
  if (!(NOTIFICATION_CHANNELS as readonly string[]).includes(channel)) throw new InvalidArgumentError('channel', `must be one of ${NOTIFICATION_CHANNELS.join(', ')}`);
  checkProviderName('provider', provider);
  const redis = options.connection ?? getSharedConnection('producer');
  let fields: Record<string, string>;
  try {
    fields = await redis.hgetall(circuitKey(resolveKeyPrefix(options.keyPrefix), channel, provider));
  } catch (error) {
    throw toUnavailableError(error, 'getProviderHealth');
  }
  const state = fields.state === 'open' || fields.state === 'half-open' ? fields.state : 'closed';
  const health: ProviderHealth = {
    channel,
    provider,
    state,
    consecutiveFailures: Number(fields.failures ?? 0),
    trips: Number(fields.trips ?? 0),
    probes: Number(fields.probes ?? 0),
  };
  if (state === 'open' && fields.openUntil !== undefined) health.openUntil = Number(fields.openUntil);
  if (fields.lastError !== undefined) health.lastError = fields.lastError;
  if (fields.changedAt !== undefined) health.changedAt = Number(fields.changedAt);
  return health;
}

/**
 * The health of every provider with a circuit breaker in Redis (found by scanning
 * `notify-circuit:*` behind the key prefix), sorted by channel and provider: what `platform queues`
 * and the `platform_notification_circuit_*` series show. Providers healthy for 7 days have no
 * breaker left and are not listed. Rejects with `RedisUnavailableError` when Redis cannot be reached.
 */
export async function listProviderHealth(options: ProviderHealthOptions = {}): Promise<ProviderHealth[]> {
  const redis = options.connection ?? getSharedConnection('producer');
  const base = namespacedKey(resolveKeyPrefix(options.keyPrefix), 'notify-circuit');
  const found: Array<[NotificationChannel, string]> = [];
  try {
    // Every master on a cluster: breakers spread by channel and provider.
    await scanKeys(redis, `${base.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}:*`, (keys) => {
      for (const key of keys) {
        const [channel, provider, extra] = key.slice(base.length + 1).split(':');
        if (extra !== undefined || provider === undefined || !(NOTIFICATION_CHANNELS as readonly string[]).includes(channel!)) continue;
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(provider)) continue;
        found.push([channel as NotificationChannel, provider]);
      }
    });
  } catch (error) {
    throw toUnavailableError(error, 'listProviderHealth');
  }
  found.sort((a, b) => (a[0] + ':' + a[1] < b[0] + ':' + b[1] ? -1 : 1));
  const unique = found.filter(([c, p], i) => i === 0 || found[i - 1]![0] !== c || found[i - 1]![1] !== p);
  return Promise.all(unique.map(([channel, provider]) => getProviderHealth(channel, provider, options)));
}
