import type { NotificationChannel } from '@platform/notifications';
import type { ConcurrencyPool } from '@platform/queue';
import type { QueueDepthThresholds } from '@platform/ops';
import type { RedisClient } from '@platform/redis';
import type { AuthorizeHook } from './auth';
import type { TenantControls } from './controls';
import type { Logger } from '@platform/telemetry';

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /** Where failed requests are logged (pino's shape). @defaultValue the logger of `configureTelemetry`, else JSON lines on stderr */
  logger?: Logger;
  /**
   * Connection the dashboard reads with (not closed by `close()`).
   * @defaultValue a producer connection from `loadRedisConfig(env)`, closed by `close()`
   */
  redis?: RedisClient;
  /** Environment read for `REDIS_*`, `REDIS_KEY_PREFIX` and the tokens. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
  /** Token that signs in as admin (Bearer, or the password of Basic). @defaultValue `env.PLATFORM_DASHBOARD_TOKEN` */
  token?: string;
  /** Token that signs in as a viewer (read only). @defaultValue `env.PLATFORM_DASHBOARD_VIEWER_TOKEN` */
  viewerToken?: string;
  /**
   * Decides who a request comes from instead of the tokens: `{ role: 'admin' | 'viewer', tenantId? }`,
   * or `null` for 401. @defaultValue none (the tokens are used)
   */
  authorize?: AuthorizeHook;
  /** Tenant controls behind the pause/resume/limits buttons. @defaultValue none: no control buttons */
  controls?: TenantControls;
  /** Path the dashboard is served under, e.g. `/ops` (links and cookies use it). @defaultValue `''` */
  basePath?: string;
  /** The platform's key prefix (under which queues, limiters and breakers live). @defaultValue `env.REDIS_KEY_PREFIX`, else none */
  keyPrefix?: string;
  /** BullMQ key prefix of the queues. @defaultValue `bull` (or `<keyPrefix>:bull`) */
  prefix?: string;
  /** First part of rate limiter keys. @defaultValue `ratelimit` (or `<keyPrefix>:ratelimit`) */
  rateLimitPrefix?: string;
  /** Queues shown (full names). @defaultValue every platform queue found under `prefix`, re-read every 5 s */
  queues?: readonly string[];
  /** Depth thresholds of the queue states. @defaultValue `{ warn: 1000, critical: 10000 }` */
  thresholds?: Partial<QueueDepthThresholds>;
  /** Most jobs read per queue and state to compute per-tenant figures. @defaultValue `1000` */
  sampleSize?: number;
  /** How often the pages refresh their numbers, ms. @defaultValue `2000` */
  refreshMs?: number;
  /** Requests within this many ms share one read of Redis. @defaultValue `1000` */
  cacheMs?: number;
  /** Recent failures listed per queue on a tenant page. @defaultValue `10` */
  failuresPerQueue?: number;
  /** Secret of the CSRF tokens (give one when several processes serve the same users). @defaultValue random per process */
  csrfSecret?: string;
  /**
   * Notification providers whose health (circuit breaker) is shown.
   * @defaultValue every provider with a breaker key, found by SCAN at most every 10 s
   */
  notificationProviders?: ReadonlyArray<{ channel: NotificationChannel; provider: string }>;
  /** Concurrency pools (`defineConcurrencyPool`) whose usage the overview shows. @defaultValue none */
  pools?: readonly ConcurrencyPool[];
  /** Serve bull-board under `/jobs` (admins without a tenant scope only). @defaultValue `true` */
  jobs?: boolean;
}

/** Defaults of {@link DashboardOptions}. */
export const defaultDashboardOptions = Object.freeze({
  basePath: '',
  sampleSize: 1000,
  refreshMs: 2000,
  cacheMs: 1000,
  failuresPerQueue: 10,
  jobs: true,
  /** Queue list re-read interval, ms. */
  queueListMs: 5000,
  /** Redis health (the doctor's checks) re-read interval, ms. */
  healthMs: 10_000,
  /** PINGs per health read. */
  rttSamples: 5,
});
