import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
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
  redis?: Redis;
  /** BullMQ key prefix of the queues. @defaultValue `'bull'` */
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
  /** Buckets of the lock wait histogram, in seconds. @defaultValue `[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30]` */
  lockWaitBuckets?: number[];
}

/** Defaults of {@link QueueMetricsOptions}. */
export const defaultQueueMetricsOptions = Object.freeze({
  prefix: 'bull',
  topTenants: DEFAULT_TOP_TENANTS,
  tenantSampleSize: DEFAULT_TENANT_SAMPLE_SIZE,
  thresholds: defaultQueueDepthThresholds,
  cacheMs: 1000,
  durationBuckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
  lockWaitBuckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
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
  rateLimitRejections: 'platform_ratelimit_rejections_total',
  lockWait: 'platform_lock_wait_seconds',
  dedupHits: 'platform_notify_dedup_hits_total',
});

/** Outcome label of {@link QueueMetrics.observeLockWait}. */
export type LockWaitOutcome = 'acquired' | 'timeout';

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
  /** Counts one rate-limit rejection (call it where `RateLimitError` is thrown or caught). */
  recordRateLimitRejection(provider: string): void;
  /** Observes how long a lock acquisition waited, in seconds, and whether it got the lock. */
  observeLockWait(seconds: number, outcome?: LockWaitOutcome): void;
  /** Counts one `notifyOnce` call suppressed by its dedupe key. */
  recordDedupHit(channel?: string): void;
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
 * | `platform_ratelimit_rejections_total` | counter | `provider` |
 * | `platform_lock_wait_seconds` | histogram | `outcome` |
 * | `platform_notify_dedup_hits_total` | counter | `channel` |
 *
 * Per-tenant series exist only for the `topTenants` tenants with the most waiting jobs in each
 * queue, so cardinality is bounded by queues x (topTenants + 1). Rate limits, locks and
 * notifications are counted through plain functions, since queue imports none of those packages.
 */
export function createQueueMetrics(options: QueueMetricsOptions = {}): QueueMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? defaultQueueMetricsOptions.prefix;
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

  const redisUp = new Gauge({
    name: names.redisUp,
    help: 'Whether the last read of the queues from Redis succeeded (1) or not (0)',
    registers,
    async collect() {
      if (!redis) return;
      this.set((await read()) === null ? 0 : 1);
    },
  });
  void redisUp;

  new Gauge({
    name: names.queueJobs,
    help: 'Jobs per queue and state (waiting includes prioritized), read from Redis on scrape',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      const stats = await read();
      this.reset();
      for (const q of stats ?? []) {
        const { waiting, active, delayed, failed, completed } = q.counts;
        for (const [state, value] of Object.entries({ waiting, active, delayed, failed, completed })) {
          this.set({ queue: q.name, state }, value);
        }
      }
    },
  });

  new Gauge({
    name: names.oldestWaiting,
    help: 'Age of the oldest waiting job per queue, in seconds (0 when nothing waits)',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      const stats = await read();
      this.reset();
      for (const q of stats ?? []) this.set({ queue: q.name }, (q.oldestWaitingAgeMs ?? 0) / 1000);
    },
  });

  new Gauge({
    name: names.tenantWaiting,
    help: 'Waiting jobs per queue for the top tenants; the rest are summed under tenant="other"',
    labelNames: ['queue', 'tenant'] as const,
    registers,
    async collect() {
      const stats = await read();
      this.reset();
      for (const q of stats ?? []) {
        let listed = 0;
        for (const t of q.topTenants.slice(0, topTenants)) {
          this.set({ queue: q.name, tenant: t.tenantId }, t.waiting);
          listed += t.waiting;
        }
        if (q.counts.waiting > 0) this.set({ queue: q.name, tenant: 'other' }, Math.max(0, q.counts.waiting - listed));
      }
    },
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
  const rateLimited = new Counter({
    name: names.rateLimitRejections,
    help: 'Calls refused by a rate limiter, per provider',
    labelNames: ['provider'] as const,
    registers,
  });
  const lockWait = new Histogram({
    name: names.lockWait,
    help: 'Time spent waiting to acquire a lock, in seconds',
    labelNames: ['outcome'] as const,
    buckets: options.lockWaitBuckets ?? defaultQueueMetricsOptions.lockWaitBuckets,
    registers,
  });
  const dedupHits = new Counter({
    name: names.dedupHits,
    help: 'notifyOnce calls suppressed because the dedupe key was already taken',
    labelNames: ['channel'] as const,
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
    recordRateLimitRejection(provider) {
      rateLimited.inc({ provider });
    },
    observeLockWait(seconds, outcome = 'acquired') {
      lockWait.observe({ outcome }, Math.max(0, seconds));
    },
    recordDedupHit(channel = 'unknown') {
      dedupHits.inc({ channel });
    },
    async refreshQueueStats() {
      cached = undefined;
      return (await read()) ?? [];
    },
  };
}
