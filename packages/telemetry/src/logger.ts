import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { pino } from 'pino';

/**
 * What the packages log through: pino's shape (`info/warn/error(object, message)`), so a pino
 * logger (or a child of one) is passed as it is, and any other logger needs three functions.
 */
export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** The fields a line carries where they are known. Never payload contents or secrets. */
export interface LogFields {
  tenantId?: string;
  queue?: string;
  jobId?: string;
  [field: string]: unknown;
}

export type LogLevel = 'info' | 'warn' | 'error';

let processLogger: Logger | undefined;
let jsonLogger: Logger | undefined;

/** Sets (or with `undefined` clears) the process-wide logger; see `configureTelemetry`. */
export function setProcessLogger(logger: Logger | undefined): void {
  processLogger = logger;
}

/**
 * The logger a component uses: its own `logger` option, else the process-wide one from
 * `configureTelemetry({ logger })`, else JSON lines on stderr (pino, level `info`, written
 * synchronously so the last lines before a crash are not lost).
 */
export function resolveLogger(own?: Logger): Logger {
  if (own) return own;
  if (processLogger) return processLogger;
  jsonLogger ??= pino({ name: 'platform' }, pino.destination({ dest: 2, sync: true }));
  return jsonLogger;
}

/** `trace_id`, `span_id` and `trace_flags` of the active span (the names pino's OpenTelemetry instrumentation uses), or nothing. */
export function traceFields(): { trace_id?: string; span_id?: string; trace_flags?: string } {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: `0${sc.traceFlags.toString(16)}`.slice(-2) };
}

/** Writes one line with `fields` and, when a span is active, its trace id. */
export function logLine(logger: Logger, level: LogLevel, fields: LogFields, message: string): void {
  logger[level]({ ...fields, ...traceFields() }, message);
}

/** `String(value)` for a thrown value that is not an `Error`, or `'an object'` when that throws (a null-prototype object). */
export function thrownMessage(value: unknown): string {
  try {
    return String(value);
  } catch {
    return 'an object';
  }
}

/** An error as log fields (`error`, not pino's `err`, which its serializer rewrites): its name, message and code, never its `cause` chain's payloads. */
export function errorFields(error: unknown): { error: { type: string; message: string; code?: string } } {
  if (!(error instanceof Error)) return { error: { type: typeof error, message: thrownMessage(error) } };
  const code = (error as { code?: unknown }).code;
  return { error: { type: error.name, message: error.message, ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}) } };
}

/** Options of {@link throttledErrorLog}. */
export interface ThrottleOptions {
  /** At most one line per this many ms. @defaultValue `30000` */
  intervalMs?: number;
  /** The line's message. @defaultValue `'connection error (retrying in the background)'` */
  message?: string;
  /** The line's level. @defaultValue `'error'` */
  level?: LogLevel;
}

/**
 * A reporter for errors that repeat while a connection is down (BullMQ and ioredis emit one per
 * reconnect attempt): at most one line per `intervalMs`, carrying `fields`, the error, and how many
 * errors were left out since the previous line (`suppressed`).
 */
export function throttledErrorLog(logger: Logger, fields: LogFields, options: ThrottleOptions = {}): (error: Error) => void {
  const intervalMs = options.intervalMs ?? 30_000;
  const message = options.message ?? 'connection error (retrying in the background)';
  const level = options.level ?? 'error';
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    // A clock set back (NTP step, VM resume) ends the interval instead of silencing it for that long.
    if (now >= last && now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    last = now;
    logLine(logger, level, { ...fields, ...errorFields(error), suppressed }, message);
    suppressed = 0;
  };
}
