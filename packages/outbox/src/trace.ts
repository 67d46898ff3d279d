import { SpanKind, type Attributes } from '@opentelemetry/api';
import { inSpan, parseTraceHeaders, platformTracer, spanAttributes as A, traceHeaders } from '@platform/telemetry';

/** The W3C trace context stored in an outbox row (both `null` when tracing was off at write time). */
export interface RowTraceContext {
  traceparent: string | null;
  tracestate: string | null;
}

const NO_TRACE: RowTraceContext = Object.freeze({ traceparent: null, tracestate: null });

/**
 * Runs an outbox write in a `create <queue>` producer span, a child of the active span (the
 * request or the transaction's span), and hands `write` that span's W3C context to store in the
 * row. In the messaging semantic conventions this is the message's creation context: the relay's
 * job continues it, however late the relay runs. Tracing off: `write` with no context, no span.
 */
export function traceOutboxWrite<R>(queue: string, tenantId: string, rowId: string, write: (trace: RowTraceContext) => Promise<R>): Promise<R> {
  if (!platformTracer()) return write(NO_TRACE);
  const attributes: Attributes = { [A.system]: 'bullmq', [A.operation]: 'create', [A.queue]: queue, [A.tenant]: tenantId, 'outbox.row.id': rowId };
  return inSpan(`create ${queue}`, { kind: SpanKind.PRODUCER, attributes }, (span) => {
    const { traceparent, tracestate } = traceHeaders(span!.spanContext());
    return write({ traceparent: traceparent ?? null, tracestate: tracestate ?? null });
  });
}

/** The span context stored in a row, or `undefined` (none, or not valid). */
function storedContext(row: RowTraceContext) {
  return row.traceparent ? parseTraceHeaders({ traceparent: row.traceparent, tracestate: row.tracestate ?? undefined }) : undefined;
}

/**
 * The BullMQ job option that carries a row's creation context to the worker (`opts.telemetry
 * .metadata`, the JSON of the W3C headers, as `bullmq-otel` writes it): the attempt's span is then a
 * child of the `create` span. `undefined` for a row without a valid context.
 */
export function jobTelemetryOf(row: RowTraceContext): { metadata: string } | undefined {
  if (!storedContext(row)) return undefined;
  return { metadata: JSON.stringify({ traceparent: row.traceparent, ...(row.tracestate ? { tracestate: row.tracestate } : {}) }) };
}

/**
 * Runs the move of one queue's rows (one `enqueueBulk`) in a `relay <queue>` span of its own trace,
 * linked to each row's creation context: a batch has many creators, so it cannot be the child of
 * one (the semantic conventions link a batch send to its messages' creation contexts). The jobs
 * themselves keep their rows' contexts (see {@link jobTelemetryOf}). Tracing off: `move()`.
 */
export function traceRelayBatch<R>(queue: string, rows: readonly RowTraceContext[], move: () => Promise<R>): Promise<R> {
  if (!platformTracer()) return move();
  const links = rows.flatMap((row) => {
    const context = storedContext(row);
    return context ? [{ context }] : [];
  });
  const attributes: Attributes = { [A.system]: 'bullmq', [A.queue]: queue, [A.batchSize]: rows.length };
  return inSpan(`relay ${queue}`, { kind: SpanKind.INTERNAL, attributes, links, parent: 'root' }, () => move());
}

/**
 * Runs the relay's `notifyOnce` of one notification row in a `relay <queue>` span that is a child
 * of the row's creation context (one row, one creator), so the notification's spans continue the
 * writer's trace. Without a stored context, or with tracing off: `move()` as it is.
 */
export function traceRelayNotification<R>(queue: string, row: RowTraceContext, move: () => Promise<R>): Promise<R> {
  const parent = platformTracer() ? storedContext(row) : undefined;
  if (!parent) return move();
  return inSpan(`relay ${queue}`, { kind: SpanKind.INTERNAL, attributes: { [A.system]: 'bullmq', [A.queue]: queue }, parent }, () => move());
}
