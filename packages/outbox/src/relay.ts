import type { QueueDefinition } from '@platform/queue';
import { checkInteger, checkMs, InvalidArgumentError } from '@platform/redis';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { toDatabaseError } from './errors';
import { createRelayMetrics, type RelayMetrics } from './metrics';
import { relayBatch, type BatchContext, type RelayNotificationOptions } from './relay-batch';
import { startListener } from './relay-listener';
import { resolveSchema, type ResolvedSchema } from './schema';
import { resolveLogger, throttledErrorLog, type Logger } from '@platform/telemetry';

/** Options of {@link startOutboxRelay}. */
export interface OutboxRelayOptions {
  /** The `pg` pool; the relay holds one connection for LISTEN and borrows one per batch. */
  pool: Pool;
  /** Queue definitions whose rows this relay moves (rows of other queues are left to other relays). @defaultValue `[]` */
  queues?: readonly QueueDefinition[];
  /**
   * Move notification rows (through `notifyOnce`), with this connection and prefix; `false` leaves
   * them to other relays. @defaultValue `{}` (the shared producer connection, `REDIS_KEY_PREFIX`)
   */
  notifications?: RelayNotificationOptions | false;
  /** PostgreSQL schema of the outbox tables. @defaultValue `'platform_outbox'` */
  schema?: string;
  /** Rows claimed per batch (one transaction). @defaultValue `200` */
  batchSize?: number;
  /** Poll for rows this often even without a NOTIFY (rows left by a relay that died, a lost LISTEN). @defaultValue `1000` */
  pollIntervalMs?: number;
  /** Wake on the outbox's NOTIFY. @defaultValue `true` */
  listen?: boolean;
  /** First wait after a failed batch (Redis or PostgreSQL down); doubles up to `maxRetryDelayMs`. @defaultValue `250` */
  retryDelayMs?: number;
  /** Longest wait between failed batches. @defaultValue `2000` */
  maxRetryDelayMs?: number;
  /** Keep moved rows (as marks) this long; `0` deletes them in the batch that moves them. @defaultValue `86400000` (24 h) */
  keepMovedMs?: number;
  /** Delete expired marks this often. @defaultValue `60000` */
  pruneIntervalMs?: number;
  /** Register the relay's series (moved, failed, latency, lag) in this registry. @defaultValue none */
  registry?: Registry;
  /** Called with each error of a batch, LISTEN connection or prune; the relay retries by itself. @defaultValue an `error` line on `logger`, at most once per 30 s */
  onError?: (error: Error) => void;
  /** Where the relay logs (pino's shape). @defaultValue the logger of `configureTelemetry`, else JSON lines on stderr */
  logger?: Logger;
}

/** Defaults of {@link OutboxRelayOptions}. */
export const defaultOutboxRelayOptions = Object.freeze({
  batchSize: 200,
  pollIntervalMs: 1000,
  listen: true,
  retryDelayMs: 250,
  maxRetryDelayMs: 2000,
  keepMovedMs: 86_400_000,
  pruneIntervalMs: 60_000,
});

/** Counters of one relay since it started. */
export interface OutboxRelayStats {
  /** Rows moved into BullMQ (jobs and notifications). */
  moved: number;
  /** Rows marked failed (invalid payload when relayed). */
  failed: number;
  /** Batches that committed. */
  batches: number;
  /** Batches rolled back (Redis or PostgreSQL unavailable). */
  errors: number;
  /** Age in ms of the oldest row waiting, as last read (every poll); `undefined` before the first read. */
  lagMs: number | undefined;
  /** Whether the LISTEN connection is up. */
  listening: boolean;
}

/** A running relay. */
export interface OutboxRelay {
  /** Moves every row that is ready now (batch after batch) and resolves with how many moved. */
  drain(): Promise<number>;
  /** Counters and the last lag read. */
  stats(): OutboxRelayStats;
  /** Finishes the batch in flight, stops listening and polling. The pool is the caller's to end. */
  stop(): Promise<void>;
}

interface Settings {
  schema: ResolvedSchema;
  batchSize: number;
  pollIntervalMs: number;
  listen: boolean;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  keepMovedMs: number;
  pruneIntervalMs: number;
}

function resolveSettings(options: OutboxRelayOptions): Settings {
  const d = defaultOutboxRelayOptions;
  const retryDelayMs = checkMs('retryDelayMs', options.retryDelayMs ?? d.retryDelayMs, 1);
  return {
    schema: resolveSchema(options.schema),
    batchSize: checkInteger('batchSize', options.batchSize ?? d.batchSize, 1, 10_000),
    pollIntervalMs: checkMs('pollIntervalMs', options.pollIntervalMs ?? d.pollIntervalMs, 1),
    listen: options.listen ?? d.listen,
    retryDelayMs,
    maxRetryDelayMs: checkMs('maxRetryDelayMs', options.maxRetryDelayMs ?? d.maxRetryDelayMs, retryDelayMs),
    keepMovedMs: checkMs('keepMovedMs', options.keepMovedMs ?? d.keepMovedMs, 0),
    pruneIntervalMs: checkMs('pruneIntervalMs', options.pruneIntervalMs ?? d.pruneIntervalMs, 1),
  };
}


/**
 * Starts moving committed outbox rows into BullMQ: each row becomes one job whose id is the row's
 * job id (so moving a row twice adds one job), or one `notifyOnce` call. Batches are claimed with
 * `FOR UPDATE SKIP LOCKED`, so any number of relays (processes) may run against one database.
 * The relay wakes on the outbox's NOTIFY (sent at commit) and polls every `pollIntervalMs` as a
 * fallback; when Redis or PostgreSQL is down, the batch rolls back and is retried with backoff,
 * and the rows wait. Moved rows are deleted or kept as marks for `keepMovedMs`, then pruned.
 *
 * @example
 * const relay = startOutboxRelay({ pool, queues: [blogWriter] });
 * process.on('SIGTERM', () => void relay.stop());
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  if (typeof options?.pool?.connect !== 'function') throw new InvalidArgumentError('pool', 'must be a pg Pool');
  const settings = resolveSettings(options);
  const queues = new Map<string, QueueDefinition>();
  for (const definition of options.queues ?? []) {
    if (typeof definition?.name !== 'string' || typeof definition.enqueueBulk !== 'function') {
      throw new InvalidArgumentError('queues', 'must be queue definitions (defineQueue)');
    }
    queues.set(definition.name, definition);
  }
  const { pool } = options;
  const report = options.onError ?? throttledErrorLog(resolveLogger(options.logger), { component: 'outbox relay' });
  const metrics: RelayMetrics | undefined = options.registry ? createRelayMetrics(options.registry, settings.schema.name) : undefined;
  const context: BatchContext = {
    pool,
    schema: settings.schema,
    queues,
    notifications: options.notifications === false ? undefined : (options.notifications ?? {}),
    batchSize: settings.batchSize,
    deleteMoved: settings.keepMovedMs === 0,
  };
  const stats: OutboxRelayStats = { moved: 0, failed: 0, batches: 0, errors: 0, lagMs: undefined, listening: false };

  let stopping = false;
  let woken = false;
  let wake: (() => void) | undefined;
  let backingOff = false;
  const signal = () => {
    woken = true;
    // A NOTIFY does not cut a backoff short (Redis or PostgreSQL is down); stop() does.
    if (!backingOff || stopping) wake?.();
  };
  // Waits `ms`, or less when signalled (a NOTIFY, stop()).
  const pause = async (ms: number) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  };

  // One batch at a time per relay: a drain() call and the loop share it.
  let running: Promise<number> = Promise.resolve(0);
  const drainOnce = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const result = await relayBatch(context);
      stats.batches += 1;
      stats.moved += result.moved.job + result.moved.notify;
      stats.failed += result.failed;
      total += result.moved.job + result.moved.notify;
      if (metrics) {
        if (result.moved.job > 0) metrics.moved('job', result.moved.job);
        if (result.moved.notify > 0) metrics.moved('notify', result.moved.notify);
        if (result.failed > 0) metrics.failed(result.failed);
        for (const age of result.ages) metrics.latency(age / 1000);
      }
      // Rows left as they were (a notification waiting on its twin's claim) wait for the next poll.
      if (result.claimed < settings.batchSize || result.moved.job + result.moved.notify + result.failed < result.claimed || stopping) return total;
    }
  };
  const drain = (): Promise<number> => {
    const next = running.catch(() => 0).then(drainOnce);
    running = next.catch(() => 0);
    return next;
  };

  const readLag = async () => {
    try {
      const result = await pool.query<{ age_ms: number | null }>(
        `SELECT (extract(epoch FROM clock_timestamp() - created_at) * 1000)::float8 AS age_ms
           FROM ${settings.schema.outbox} WHERE moved_at IS NULL AND failed_at IS NULL ORDER BY seq LIMIT 1`,
      );
      stats.lagMs = Math.max(0, Math.round(Number(result.rows[0]?.age_ms ?? 0)));
      metrics?.lag(stats.lagMs / 1000);
    } catch (error) {
      report(toDatabaseError('relay lag', error));
    }
  };

  const loop = async () => {
    let failures = 0;
    let lastLagRead = 0;
    while (!stopping) {
      woken = false;
      try {
        await drain();
        failures = 0;
      } catch (error) {
        failures += 1;
        stats.errors += 1;
        metrics?.error();
        report(error instanceof Error ? error : new Error(String(error)));
        backingOff = true;
        await pause(Math.min(settings.retryDelayMs * 2 ** (failures - 1), settings.maxRetryDelayMs));
        backingOff = false;
        continue;
      }
      if (Date.now() - lastLagRead >= settings.pollIntervalMs) {
        lastLagRead = Date.now();
        await readLag();
      }
      if (woken || stopping) continue;
      await pause(settings.pollIntervalMs);
    }
  };

  const prune = async () => {
    if (settings.keepMovedMs === 0) return;
    try {
      await pool.query(
        `DELETE FROM ${settings.schema.outbox} WHERE id IN (
           SELECT id FROM ${settings.schema.outbox}
            WHERE moved_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
            LIMIT 10000)`,
        [settings.keepMovedMs],
      );
    } catch (error) {
      report(toDatabaseError('relay prune', error));
    }
  };
  const pruneTimer = setInterval(() => void prune(), settings.pruneIntervalMs);
  pruneTimer.unref();

  const listener = settings.listen
    ? startListener({ pool, channel: settings.schema.channel, retryDelayMs: settings.maxRetryDelayMs, onNotify: signal, onError: report })
    : undefined;
  const looping = loop();

  let stopped: Promise<void> | undefined;
  return {
    drain,
    stats: () => ({ ...stats, listening: listener?.listening ?? false }),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(pruneTimer);
        wake?.();
        await looping;
        await running;
        await listener?.close();
      })();
      return stopped;
    },
  };
}
