import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Job, Worker } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { defaultPrefix } from './prefix';
import {
  DEFAULT_TENANT_SAMPLE_SIZE,
  DEFAULT_TOP_TENANTS,
  defaultQueueDepthThresholds,
  getQueueStats,
  type QueueDepthThresholds,
  type QueueStats,
} from './stats';

/** Options of {@link createQueueMetrics}. */
export interface QueueMetricsOptions {
  /** Registry the metrics are registered in. @defaultValue a new `Registry` */
  registry?: Registry;
  /** Connection used to read queue depth on each scrape. Without it, no depth series are collected. */
  redis?: RedisClient;
  /** BullMQ key prefix of the queues. @defaultValue `bullPrefixFor(REDIS_KEY_PREFIX)`: `'bull'`, or `'<REDIS_KEY_PREFIX>:bull'` */
  prefix?: string;
  /** Only these queues. @defaultValue every platform queue found under `prefix` on each scrape */
  queues?: readonly string[];
  /** Tenants with their own `tenant` label per queue; the rest are summed as `tenant="other"`. @defaultValue `10` */
  topTenants?: number;
  /** Waiting jobs read per queue and scrape to rank tenants. @defaultValue `1000` */
  tenantSampleSize?: number;
  /** Depth thresholds exported as `platform_queue_depth_threshold_jobs`. @defaultValue `{ warn: 1000, critical: 10000 }` */
  thresholds?: Partial<QueueDepthThresholds>;
  /** Scrapes within this many ms reuse one read of the queues. @defaultValue `1000` */
  cacheMs?: number;
  /** Buckets of the job duration histogram, in seconds. @defaultValue `[0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900]` */
  durationBuckets?: number[];
}

/** Defaults of {@link QueueMetricsOptions} (the prefix defaults to `bullPrefixFor(REDIS_KEY_PREFIX)`). */
export const defaultQueueMetricsOptions = Object.freeze({
  topTenants: DEFAULT_TOP_TENANTS,
  tenantSampleSize: DEFAULT_TENANT_SAMPLE_SIZE,
  thresholds: defaultQueueDepthThresholds,
  cacheMs: 1000,
  durationBuckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
});

/** The series names, exported so dashboards and tests do not repeat string literals. */
export const QUEUE_METRIC_NAMES = Object.freeze({
  queueJobs: 'platform_queue_jobs',
  oldestWaiting: 'platform_queue_oldest_waiting_seconds',
  tenantWaiting: 'platform_queue_tenant_waiting_jobs',
  depthThreshold: 'platform_queue_depth_threshold_jobs',
  redisUp: 'platform_queue_redis_up',
  jobsCompleted: 'platform_jobs_completed_total',
  jobsFailed: 'platform_jobs_failed_total',
  jobDuration: 'platform_job_duration_seconds',
});

/** What {@link createQueueMetrics} returns. */
export interface QueueMetrics {
  /** The registry holding every series (serve it with `createMetricsHandler`). */
  readonly registry: Registry;
  /**
   * Counts a BullMQ worker's completed and failed jobs and observes their duration, labelled with
   * the worker's queue. Returns a function that detaches the listeners.
   */
  observeWorker(worker: Worker): () => void;
  /** Counts one completed job (for workers not attached with `observeWorker`). */
  recordJobCompleted(queue: string, durationSeconds?: number): void;
  /** Counts one failed attempt (for workers not attached with `observeWorker`). */
  recordJobFailed(queue: string, durationSeconds?: number): void;
  /** Reads the queues now (as a scrape does) and returns what was read. */
  refreshQueueStats(): Promise<QueueStats[]>;
}

function durationOf(job: Job | undefined): number | undefined {
  if (!job?.processedOn || !job.finishedOn) return undefined;
  return Math.max(0, (job.finishedOn - job.processedOn) / 1000);
}

/**
 * Prometheus metrics of the platform (prom-client):
 *
 * | series | type | labels |
 * | --- | --- | --- |
 * | `platform_queue_jobs` | gauge, read on scrape | `queue`, `state` (waiting incl. prioritized, active, delayed, failed, completed) |
 * | `platform_queue_oldest_waiting_seconds` | gauge, read on scrape | `queue` |
 * | `platform_queue_tenant_waiting_jobs` | gauge, read on scrape | `queue`, `tenant` (top N tenants, the rest as `other`) |
 * | `platform_queue_depth_threshold_jobs` | gauge | `level` (`warn`, `critical`) |
 * | `platform_queue_redis_up` | gauge | none (0 when the last read failed) |
 * | `platform_jobs_completed_total` / `platform_jobs_failed_total` | counter | `queue` |
 * | `platform_job_duration_seconds` | histogram | `queue`, `status` |
 *
 * Per-tenant series exist only for the `topTenants` tenants with the most waiting jobs in each
 * queue, so cardinality is bounded by queues x (topTenants + 1). Every series is recorded: depth
 * series are read from Redis on scrape, job series from the workers passed to `observeWorker` (or
 * the `record*` calls).
 */
export function createQueueMetrics(options: QueueMetricsOptions = {}): QueueMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? defaultPrefix();
  const topTenants = Math.max(0, options.topTenants ?? defaultQueueMetricsOptions.topTenants);
  const thresholds = { ...defaultQueueMetricsOptions.thresholds, ...options.thresholds };
  const cacheMs = options.cacheMs ?? defaultQueueMetricsOptions.cacheMs;
  const redis = options.redis;
  const registers = [registry];
  const names = QUEUE_METRIC_NAMES;

  let cached: { at: number; promise: Promise<QueueStats[] | null> } | undefined;
  const read = (): Promise<QueueStats[] | null> => {
    if (!redis) return Promise.resolve(null);
    const now = Date.now();
    if (cached && now - cached.at < cacheMs) return cached.promise;
    const promise = getQueueStats(redis, {
      prefix,
      topTenants,
      tenantSampleSize: options.tenantSampleSize ?? defaultQueueMetricsOptions.tenantSampleSize,
      thresholds,
      ...(options.queues ? { queues: options.queues } : {}),
    }).catch(() => null);
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
        const stats = await read();
        this.reset();
        fill((labels, value) => this.set(labels as never, value), stats ?? []);
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

  statsGauge(names.oldestWaiting, 'Age of the oldest waiting job per queue, in seconds (0 when nothing waits)', ['queue'], (set, stats) => {
    for (const q of stats) set({ queue: q.name }, (q.oldestWaitingAgeMs ?? 0) / 1000);
  });

  statsGauge(names.tenantWaiting, 'Waiting jobs per queue for the top tenants; the rest are summed under tenant="other"', ['queue', 'tenant'], (set, stats) => {
    for (const q of stats) {
      let listed = 0;
      for (const t of q.topTenants.slice(0, topTenants)) {
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

  const completed = new Counter({ name: names.jobsCompleted, help: 'Jobs completed per queue', labelNames: ['queue'] as const, registers });
  const failed = new Counter({ name: names.jobsFailed, help: 'Failed job attempts per queue', labelNames: ['queue'] as const, registers });
  const duration = new Histogram({
    name: names.jobDuration,
    help: 'Job processing time per queue, in seconds',
    labelNames: ['queue', 'status'] as const,
    buckets: options.durationBuckets ?? defaultQueueMetricsOptions.durationBuckets,
    registers,
  });

  const recordJobCompleted = (queue: string, seconds?: number) => {
    completed.inc({ queue });
    if (seconds !== undefined) duration.observe({ queue, status: 'completed' }, seconds);
  };
  const recordJobFailed = (queue: string, seconds?: number) => {
    failed.inc({ queue });
    if (seconds !== undefined) duration.observe({ queue, status: 'failed' }, seconds);
  };

  return {
    registry,
    observeWorker(worker) {
      const onCompleted = (job: Job) => recordJobCompleted(worker.name, durationOf(job));
      const onFailed = (job: Job | undefined) => recordJobFailed(worker.name, durationOf(job));
      worker.on('completed', onCompleted);
      worker.on('failed', onFailed);
      return () => {
        worker.off('completed', onCompleted);
        worker.off('failed', onFailed);
      };
    },
    recordJobCompleted,
    recordJobFailed,
    async refreshQueueStats() {
      cached = undefined;
      return (await read()) ?? [];
    },
  };
}
