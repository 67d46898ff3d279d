import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The series names of the relay, exported so dashboards and tests do not repeat string literals. */
export const OUTBOX_METRIC_NAMES = Object.freeze({
  rowsMoved: 'platform_outbox_rows_moved_total',
  rowsFailed: 'platform_outbox_rows_failed_total',
  relayErrors: 'platform_outbox_relay_errors_total',
  moveLatency: 'platform_outbox_move_latency_seconds',
  lag: 'platform_outbox_lag_seconds',
});

/** Buckets of the write-to-queue latency histogram, in seconds. */
export const DEFAULT_MOVE_LATENCY_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60]);

/** The relay's series in one registry (shared by every relay of the process that uses it). */
export interface RelayMetrics {
  moved(kind: 'job' | 'notify', count: number): void;
  failed(count: number): void;
  error(): void;
  latency(seconds: number): void;
  lag(seconds: number): void;
}

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Registers (or reuses) the relay's series in `registry`, labelled with the schema. */
export function createRelayMetrics(registry: Registry, schema: string): RelayMetrics {
  const registers = [registry];
  const moved = getOrCreate(registry, OUTBOX_METRIC_NAMES.rowsMoved, () =>
    new Counter({ name: OUTBOX_METRIC_NAMES.rowsMoved, help: 'Outbox rows moved into BullMQ', labelNames: ['schema', 'kind'], registers }),
  );
  const failed = getOrCreate(registry, OUTBOX_METRIC_NAMES.rowsFailed, () =>
    new Counter({ name: OUTBOX_METRIC_NAMES.rowsFailed, help: 'Outbox rows marked failed (invalid when relayed)', labelNames: ['schema'], registers }),
  );
  const errors = getOrCreate(registry, OUTBOX_METRIC_NAMES.relayErrors, () =>
    new Counter({ name: OUTBOX_METRIC_NAMES.relayErrors, help: 'Relay batches rolled back (Redis or PostgreSQL unavailable)', labelNames: ['schema'], registers }),
  );
  const latency = getOrCreate(registry, OUTBOX_METRIC_NAMES.moveLatency, () =>
    new Histogram({
      name: OUTBOX_METRIC_NAMES.moveLatency,
      help: 'Time from writing an outbox row to its job being in the queue',
      labelNames: ['schema'],
      buckets: [...DEFAULT_MOVE_LATENCY_BUCKETS],
      registers,
    }),
  );
  const lag = getOrCreate(registry, OUTBOX_METRIC_NAMES.lag, () =>
    new Gauge({ name: OUTBOX_METRIC_NAMES.lag, help: 'Age of the oldest outbox row not yet moved (0 when none)', labelNames: ['schema'], registers }),
  );
  return {
    moved: (kind, count) => moved.inc({ schema, kind }, count),
    failed: (count) => failed.inc({ schema }, count),
    error: () => errors.inc({ schema }),
    latency: (seconds) => latency.observe({ schema }, seconds),
    lag: (seconds) => lag.set({ schema }, seconds),
  };
}
