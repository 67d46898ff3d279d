import { Gauge, Registry } from 'prom-client';
import { describeValue, InvalidArgumentError, type RedisClient } from '@platform/redis';
import { defaultPrefix } from './prefix';
import {
  DEFAULT_TENANT_SAMPLE_SIZE,
  DEFAULT_TOP_TENANTS,
  defaultQueueDepthThresholds,
  getQueueStats,
  type QueueDepthThresholds,
  type QueueStats,
} from './stats';
import { createTenantSeries, OTHER_TENANT, registerComputedMetric, TENANT_SERIES_NAMES } from './tenant-series';
import { readQueueTenantData, type QueueTenantData } from './tenants';

/** Options of {@link createQueueMetrics}. */
export interface QueueMetricsOptions {
  /** Registry the metrics are registered in. @defaultValue a new `Registry` */
  registry?: Registry;
  /** Connection used to read the queues and job statistics on each scrape. Without it, only the thresholds are exported. */
  redis?: RedisClient;
  /** BullMQ key prefix of the queues. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'` */
  prefix?: string;
  /** Only these queues. @defaultValue every queue found under `prefix` on each scrape (platform and plain BullMQ) */
  queues?: readonly string[];
  /** Tenants with their own `tenant` label per queue (by backlog, then traffic); the rest are summed as `tenant="other"`. @defaultValue `10` */
  topTenants?: number;
  /** Waiting jobs read per queue and scrape to rank tenants. @defaultValue `1000` */
  tenantSampleSize?: number;
  /** Depth thresholds exported as `platform_queue_depth_threshold_jobs`. @defaultValue `{ warn: 1000, critical: 10000 }` */
  thresholds?: Partial<QueueDepthThresholds>;
  /** Scrapes within this many ms reuse one read of the queues. @defaultValue `1000` */
  cacheMs?: number;
  /**
   * Reads the notification providers' circuit breakers on scrape (`listProviderHealth` of
   * `@platform/notifications`, which this package does not depend on) for the
   * `platform_notification_circuit_*` series. @defaultValue none: no breaker series
   */
  providerHealth?: () => Promise<readonly ProviderBreaker[]>;
}

/** A notification provider's circuit breaker, as `listProviderHealth` of `@platform/notifications` returns it. */
export interface ProviderBreaker {
  channel: string;
  provider: string;
  state: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  trips: number;
  probes: number;
}

/** Defaults of {@link QueueMetricsOptions} (the prefix defaults to `bullPrefixFor(REDIS_KEY_PREFIX)`). */
export const defaultQueueMetricsOptions = Object.freeze({
  topTenants: DEFAULT_TOP_TENANTS,
  tenantSampleSize: DEFAULT_TENANT_SAMPLE_SIZE,
  thresholds: defaultQueueDepthThresholds,
  cacheMs: 1000,
});

/** The series names, exported so dashboards and tests do not repeat string literals. */
export const QUEUE_METRIC_NAMES = Object.freeze({
  queueJobs: 'platform_queue_jobs',
  queuePaused: 'platform_queue_paused',
  oldestWaiting: 'platform_queue_oldest_waiting_seconds',
  tenantWaiting: 'platform_queue_tenant_waiting_jobs',
  depthThreshold: 'platform_queue_depth_threshold_jobs',
  redisUp: 'platform_queue_redis_up',
  jobsEnqueued: TENANT_SERIES_NAMES.enqueued,
  jobsCompleted: TENANT_SERIES_NAMES.completed,
  jobsFailed: TENANT_SERIES_NAMES.failed,
  jobFailedAttempts: TENANT_SERIES_NAMES.failedAttempts,
  jobsDeferred: TENANT_SERIES_NAMES.deferred,
  jobWait: TENANT_SERIES_NAMES.wait,
  jobRun: TENANT_SERIES_NAMES.run,
  tenantBacklog: TENANT_SERIES_NAMES.backlog,
  tenantActive: TENANT_SERIES_NAMES.active,
  circuitState: 'platform_notification_circuit_state',
  circuitTrips: 'platform_notification_circuit_trips_total',
  circuitProbes: 'platform_notification_circuit_probes_total',
  circuitFailures: 'platform_notification_circuit_consecutive_failures',
});

/** What {@link createQueueMetrics} returns. */
export interface QueueMetrics {
  /** The registry holding every series (serve it with `createMetricsHandler`). */
  readonly registry: Registry;
  /** Reads the queues now (as a scrape does) and returns what was read. */
  refreshQueueStats(): Promise<QueueStats[]>;
}

interface Snapshot {
  stats: QueueStats[];
  tenants: QueueTenantData[];
}

/**
 * Prometheus metrics of the platform (prom-client), all read from Redis on scrape, so one exporter
 * (`platform metrics`, or this in any service) shows every worker's jobs with no call from them:
 *
 * | series | type | labels |
 * | --- | --- | --- |
 * | `platform_queue_jobs` | gauge | `queue`, `state` (waiting incl. prioritized, active, delayed, failed, completed) |
 * | `platform_queue_paused` | gauge | `queue` (1 when paused) |
 * | `platform_queue_oldest_waiting_seconds` | gauge | `queue` |
 * | `platform_queue_tenant_waiting_jobs` | gauge | `queue`, `tenant` (top N by waiting jobs, the rest as `other`) |
 * | `platform_queue_depth_threshold_jobs` | gauge | `level` (`warn`, `critical`) |
 * | `platform_queue_redis_up` | gauge | none (0 when the last read failed) |
 * | `platform_jobs_enqueued_total`, `platform_jobs_completed_total`, `platform_jobs_failed_total` (failed for good), `platform_job_failed_attempts_total` | counter | `queue`, `tenant` |
 * | `platform_jobs_deferred_total` | counter | `queue`, `tenant`, `reason` |
 * | `platform_job_wait_seconds`, `platform_job_run_seconds` | histogram | `queue`, `tenant` |
 * | `platform_tenant_backlog_jobs`, `platform_tenant_active_jobs` | gauge | `queue`, `tenant` |
 * | `platform_notification_circuit_state` | gauge | `channel`, `provider`, `state` (1 for the current state) |
 * | `platform_notification_circuit_trips_total`, `…_probes_total` | counter | `channel`, `provider` |
 * | `platform_notification_circuit_consecutive_failures` | gauge | `channel`, `provider` |
 *
 * Tenant labels: the `topTenants` tenants of each queue by backlog, then traffic; the rest summed
 * as `other`, so a queue has at most `topTenants + 1` tenant values whatever the number of tenants.
 * Counters start, in a new exporter, from what the last hour's slots hold, then grow.
 */
export function createQueueMetrics(options: QueueMetricsOptions = {}): QueueMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? defaultPrefix();
  const topTenants = Math.max(0, options.topTenants ?? defaultQueueMetricsOptions.topTenants);
  const tenantSampleSize = options.tenantSampleSize ?? defaultQueueMetricsOptions.tenantSampleSize;
  const thresholds = { ...defaultQueueMetricsOptions.thresholds, ...options.thresholds };
  const cacheMs = options.cacheMs ?? defaultQueueMetricsOptions.cacheMs;
  const redis = options.redis;
  for (const name of options.queues ?? []) {
    // BullMQ refuses these when a scrape opens the queue, which would read as Redis being down.
    if (typeof name !== 'string' || name === '' || name.includes(':')) throw new InvalidArgumentError('queues', `a queue name must be non-empty and without ":", got ${describeValue(name)}`);
  }
  const registers = [registry];
  const names = QUEUE_METRIC_NAMES;

  let cached: { at: number; promise: Promise<Snapshot | null> } | undefined;
  const read = (): Promise<Snapshot | null> => {
    if (!redis) return Promise.resolve(null);
    const now = Date.now();
    if (cached && now - cached.at < cacheMs) return cached.promise;
    const promise = (async (): Promise<Snapshot> => {
      const stats = await getQueueStats(redis, {
        prefix,
        topTenants,
        tenantSampleSize,
        thresholds,
        ...(options.queues ? { queues: options.queues } : {}),
      });
      const tenants: QueueTenantData[] = [];
      for (const q of stats) tenants.push(await readQueueTenantData(redis, q.name, { prefix, tenantSampleSize }));
      return { stats, tenants };
    })().catch(() => null);
    cached = { at: now, promise };
    return promise;
  };

  // The depth series are all read from one cached read of the queues on scrape.
  const statsGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (set: (labels: Record<L, string>, value: number) => void, stats: QueueStats[]) => void,
  ): void => {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const snapshot = await read();
        this.reset();
        fill((labels, value) => this.set(labels as never, value), snapshot?.stats ?? []);
      },
    });
  };

  if (redis) {
    new Gauge({
      name: names.redisUp,
      help: 'Whether the last read of the queues from Redis succeeded (1) or not (0)',
      registers,
      async collect() {
        this.set((await read()) === null ? 0 : 1);
      },
    });
  }

  statsGauge(names.queueJobs, 'Jobs per queue and state (waiting includes prioritized), read from Redis on scrape', ['queue', 'state'], (set, stats) => {
    for (const q of stats) {
      const { waiting, active, delayed, failed, completed } = q.counts;
      for (const [state, value] of Object.entries({ waiting, active, delayed, failed, completed })) set({ queue: q.name, state }, value);
    }
  });

  statsGauge(names.queuePaused, 'Whether the queue is paused (1) or not (0)', ['queue'], (set, stats) => {
    for (const q of stats) set({ queue: q.name }, q.paused ? 1 : 0);
  });

  statsGauge(names.oldestWaiting, 'Age of the oldest waiting job per queue, in seconds (0 when nothing waits)', ['queue'], (set, stats) => {
    for (const q of stats) set({ queue: q.name }, (q.oldestWaitingAgeMs ?? 0) / 1000);
  });

  statsGauge(names.tenantWaiting, 'Waiting jobs per queue for the top tenants; the rest are summed under tenant="other"', ['queue', 'tenant'], (set, stats) => {
    for (const q of stats) {
      let listed = 0;
      for (const t of q.topTenants.slice(0, topTenants)) {
        // A tenant whose id is the remainder's label is counted in the remainder.
        if (t.tenantId === OTHER_TENANT) continue;
        set({ queue: q.name, tenant: t.tenantId }, t.waiting);
        listed += t.waiting;
      }
      if (q.counts.waiting > 0) set({ queue: q.name, tenant: 'other' }, Math.max(0, q.counts.waiting - listed));
    }
  });

  const threshold = new Gauge({
    name: names.depthThreshold,
    help: 'Queue depth (waiting jobs) thresholds applied by platform queues and alerts',
    labelNames: ['level'] as const,
    registers,
  });
  threshold.set({ level: 'warn' }, thresholds.warn);
  threshold.set({ level: 'critical' }, thresholds.critical);

  createTenantSeries(registry, topTenants, async () => (await read())?.tenants ?? null);

  const providerHealth = options.providerHealth;
  if (providerHealth) {
    let breakers: { at: number; promise: Promise<readonly ProviderBreaker[]> } | undefined;
    const readBreakers = () => {
      if (!breakers || Date.now() - breakers.at >= cacheMs) breakers = { at: Date.now(), promise: providerHealth().catch(() => []) };
      return breakers.promise;
    };
    new Gauge({
      name: names.circuitState,
      help: 'State of each notification provider\'s circuit breaker: 1 for the current state (closed, open, half-open)',
      labelNames: ['channel', 'provider', 'state'] as const,
      registers,
      async collect() {
        const list = await readBreakers();
        this.reset();
        for (const b of list) for (const state of ['closed', 'open', 'half-open']) this.set({ channel: b.channel, provider: b.provider, state }, b.state === state ? 1 : 0);
      },
    });
    const fromBreakers = (name: string, help: string, type: 'counter' | 'gauge', pick: (b: ProviderBreaker) => number) =>
      registerComputedMetric(
        registry,
        { name, help, type },
        async () => (await readBreakers()).map((b) => ({ labels: { channel: b.channel, provider: b.provider }, value: pick(b) })),
        () => (breakers = undefined),
      );
    fromBreakers(names.circuitTrips, 'Times each provider\'s breaker opened from closed (kept in Redis)', 'counter', (b) => b.trips);
    fromBreakers(names.circuitProbes, 'Probe calls each provider\'s breaker let through (kept in Redis)', 'counter', (b) => b.probes);
    fromBreakers(names.circuitFailures, 'Retryable failures in a row per provider', 'gauge', (b) => b.consecutiveFailures);
  }

  return {
    registry,
    async refreshQueueStats() {
      cached = undefined;
      return (await read())?.stats ?? [];
    },
  };
}
