import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  createTraceState,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { setProcessLogger, thrownMessage, type Logger } from './logger';

/** Options of {@link configureTelemetry}. */
export interface TelemetryOptions {
  /**
   * Where the packages' spans go. A provider: that one. `false`: no spans, and no trace context is
   * written into jobs. @defaultValue `undefined`: the global provider when one is registered
   * (`NodeSDK.start()`, `provider.register()`), else no spans
   */
  tracerProvider?: TracerProvider | false;
  /** The process-wide logger of every package (a component's own `logger` option wins). @defaultValue JSON lines on stderr (pino) */
  logger?: Logger;
}

/** The attribute names the packages set on spans and events. */
export const spanAttributes = {
  tenant: 'tenant.id',
  queue: 'messaging.destination.name',
  jobId: 'messaging.message.id',
  jobName: 'messaging.bullmq.job.name',
  attempt: 'job.attempt',
  outcome: 'job.outcome',
  system: 'messaging.system',
  operation: 'messaging.operation.type',
  batchSize: 'messaging.batch.message_count',
} as const;

const TRACER_NAME = '@platform';
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

let configured: TracerProvider | false | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The one switch of traces and the process-wide logger. Call it once at start-up, before queues
 * and workers are created; calling it again replaces both settings.
 *
 * @example
 * configureTelemetry({ tracerProvider: provider, logger: pino() });
 */
export function configureTelemetry(options: TelemetryOptions = {}): void {
  configured = options.tracerProvider;
  cachedTracer = undefined;
  setProcessLogger(options.logger);
}

function isNoop(provider: TracerProvider): boolean {
  const delegate = typeof (provider as ProxyTracerProvider).getDelegate === 'function' ? (provider as ProxyTracerProvider).getDelegate() : provider;
  return delegate === NOOP_PROVIDER || delegate.constructor?.name === 'NoopTracerProvider';
}

/**
 * The packages' tracer, or `undefined` while tracing is off. Off costs one global lookup: no span,
 * no context read, nothing written into jobs.
 */
export function platformTracer(): Tracer | undefined {
  if (cachedTracer) return cachedTracer;
  if (configured === false) return undefined;
  const provider = configured ?? trace.getTracerProvider();
  if (isNoop(provider)) return undefined;
  cachedTracer = provider.getTracer(TRACER_NAME);
  return cachedTracer;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * W3C trace context of a span context (by default the active span's), as the `traceparent` /
 * `tracestate` header pair for an outgoing request; `{}` when there is none.
 */
export function traceHeaders(spanContext = trace.getSpan(context.active())?.spanContext()): { traceparent?: string; tracestate?: string } {
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  const flags = `0${(spanContext.traceFlags & 0xff).toString(16)}`.slice(-2);
  const state = spanContext.traceState?.serialize();
  return { traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`, ...(state ? { tracestate: state } : {}) };
}

/** The remote span context of W3C headers, or `undefined` when they carry none that is valid. */
export function parseTraceHeaders(headers: { traceparent?: unknown; tracestate?: unknown }): SpanContext | undefined {
  if (typeof headers.traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(headers.traceparent.trim());
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const spanContext: SpanContext = { traceId: match[2]!, spanId: match[3]!, traceFlags: parseInt(match[4]!, 16), isRemote: true };
  if (typeof headers.tracestate === 'string' && headers.tracestate !== '') spanContext.traceState = createTraceState(headers.tracestate);
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * A span's context as job metadata: the JSON of its W3C headers, the format BullMQ's
 * `opts.telemetry.metadata` has with `bullmq-otel`, so either side can continue the trace.
 */
export function toJobMetadata(span: Span): string {
  return JSON.stringify(traceHeaders(span.spanContext()));
}

/**
 * The metadata {@link toJobMetadata} writes for a span without `tracestate`, read without
 * JSON.parse: a fixed layout, so the ids are sliced at fixed offsets once the regex matched.
 */
const PLAIN_METADATA = /^\{"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"\}$/;
const TRACE_ID_AT = '{"traceparent":"00-'.length;
const SPAN_ID_AT = TRACE_ID_AT + 32 + 1;
const FLAGS_AT = SPAN_ID_AT + 16 + 1;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** The span context stored by {@link toJobMetadata}, or `undefined` (none, or not valid). */
export function fromJobMetadata(metadata: unknown): SpanContext | undefined {
  if (typeof metadata !== 'string' || metadata === '') return undefined;
  // Fast path (one regex test and fixed slices, no captures, no JSON.parse): the exact form
  // toJobMetadata writes without tracestate. Read once per attempt of every traced job.
  if (PLAIN_METADATA.test(metadata)) {
    const traceId = metadata.slice(TRACE_ID_AT, TRACE_ID_AT + 32);
    const spanId = metadata.slice(SPAN_ID_AT, SPAN_ID_AT + 16);
    if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
    return { traceId, spanId, traceFlags: parseInt(metadata.slice(FLAGS_AT, FLAGS_AT + 2), 16), isRemote: true };
  }
  try {
    const parsed: unknown = JSON.parse(metadata);
    return typeof parsed === 'object' && parsed !== null ? parseTraceHeaders(parsed) : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link inSpan}. */
export interface InSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent: a remote span context, or `'root'` for a new trace. @defaultValue the active span */
  parent?: SpanContext | 'root';
  links?: Link[];
  /** Whether a rejection marks the span failed. @defaultValue every rejection does */
  isFailure?: (error: unknown) => boolean;
  /**
   * Called once `fn` settles, before the span ends (and before `isFailure`): `rejected` says how,
   * `error` is the rejection. For attributes that depend on the result, such as an outcome,
   * without a promise of the caller's own around `fn`. @defaultValue none
   */
  onSettled?: (span: Span, rejected: boolean, error?: unknown) => void;
}

/**
 * Runs `fn` in a new active span when tracing is on (else `fn(undefined)` and nothing more): the
 * span ends when `fn` settles, with an error status and the exception (type and message) when it
 * rejects (unless `isFailure` says the rejection is not a failure, e.g. a deferral).
 *
 * No async frame of its own: the span ends in handlers chained to `fn`'s promise (a job's attempt
 * runs inside it, and each frame is a promise more per job).
 */
export function inSpan<R>(name: string, options: InSpanOptions, fn: (span: Span | undefined) => Promise<R>): Promise<R> {
  const tracer = platformTracer();
  if (!tracer) return settled(() => fn(undefined));
  let parent: Context = context.active();
  if (options.parent === 'root') parent = ROOT_CONTEXT;
  else if (options.parent) parent = trace.setSpanContext(ROOT_CONTEXT, options.parent);
  const spanOptions: SpanOptions = { kind: options.kind ?? SpanKind.INTERNAL };
  if (options.attributes) spanOptions.attributes = options.attributes;
  if (options.links) spanOptions.links = options.links;
  const span = tracer.startSpan(name, spanOptions, parent);
  const { onSettled, isFailure } = options;
  return settled(() => context.with(trace.setSpan(parent, span), fn, undefined, span)).then(
    (result) => {
      onSettled?.(span, false);
      span.end();
      return result;
    },
    (error: unknown) => {
      onSettled?.(span, true, error);
      if (isFailure?.(error) ?? true) recordError(span, error);
      span.end();
      throw error;
    },
  );
}

/** `run()`'s promise, with a synchronous throw turned into a rejection (as an async function does). */
function settled<R>(run: () => Promise<R>): Promise<R> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/** Marks a span failed with the error's type and message (no stack: it can quote arguments). */
export function recordError(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(thrownMessage(error));
  span.recordException({ name: err.name, message: err.message });
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/** Adds an event to the active span, if there is one that records. */
export function spanEvent(name: string, attributes?: Attributes): void {
  const span = trace.getSpan(context.active());
  if (span?.isRecording()) span.addEvent(name, attributes);
}
