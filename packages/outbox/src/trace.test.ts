// Traces through the outbox, with the OpenTelemetry SDK's in-memory exporter: a job written in a
// transaction continues the trace of the span that wrote it, however late the relay moves it.
import { SpanKind, context as otelContext, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { closeNotificationQueues } from '@platform/notifications';
import { createRedisConnection, createWorker, defineQueue, loadRedisConfig, notificationQueue } from '@platform/queue';
import { configureTelemetry } from '@platform/telemetry';
import { uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { enqueueInTransaction } from './enqueue';
import { notifyOnceInTransaction } from './notify';
import { startOutboxRelay } from './relay';
import { useOutboxTestContext } from './test-support';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const context = useOutboxTestContext(() => closeNotificationQueues());
const { redis, prefixes, definitions, relays } = context;
const workers: Array<{ close(): Promise<void> }> = [];

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan | undefined): string | undefined => span?.spanContext().spanId;
const traceOf = (span: ReadableSpan | undefined): string | undefined => span?.spanContext().traceId;
const linked = (span: ReadableSpan | undefined): SpanContext[] => (span?.links ?? []).map((link) => link.context);

beforeAll(() => {
  otelContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  configureTelemetry({ tracerProvider: provider });
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.close();
  exporter.reset();
});

afterAll(() => {
  configureTelemetry();
  otelContext.disable();
});

async function setup() {
  const prefix = uniquePrefix('otbtrace');
  prefixes.push(prefix);
  const schema = await context.db.freshSchema();
  const definition = defineQueue({ namespace: 'agent', name: 'traced', schema: z.object({ topic: z.string() }), prefix, connection: redis });
  definitions.push(definition);
  // No LISTEN and a long poll: rows move when the test calls drain().
  const relay = startOutboxRelay({ pool: context.db.pool, schema, queues: [definition], notifications: { connection: redis, keyPrefix: prefix }, listen: false, pollIntervalMs: 60_000 });
  relays.push(relay);
  await relay.drain();
  return { prefix, schema, definition, relay };
}

/** Runs `fn` inside a `POST /<what>` server span, as an instrumented HTTP handler would. */
function inRequest<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return provider.getTracer('test').startActiveSpan(`POST /${what}`, { kind: SpanKind.SERVER }, async (span) => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

test('a job written in a transaction continues the writer\u2019s trace: request -> create -> process, and the relay\u2019s batch links every row', async () => {
  const { schema, definition, relay } = await setup();
  // Two requests, two traces; the relay moves both rows in one batch.
  for (const topic of ['first', 'second']) {
    await inRequest(topic, () => context.db.transaction((client) => enqueueInTransaction(client, definition, { tenantId: 'acme', topic }, { outboxSchema: schema })));
  }
  const stored = await context.db.pool.query<{ traceparent: string | null }>(`SELECT traceparent FROM "${schema}".outbox ORDER BY seq`);
  const creates = named(`create ${definition.name}`);
  expect(creates).toHaveLength(2);
  // The row holds the W3C context of its `create` span, written in the same transaction.
  expect(stored.rows.map((row) => row.traceparent)).toEqual(creates.map((span) => `00-${traceOf(span)}-${idOf(span)}-01`));

  expect(await relay.drain()).toBe(2);
  const connection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
  const worker = createWorker(definition, async () => 'done', { connection, handleSignals: false });
  workers.push({ close: async () => { await worker.close(); await connection.quit(); } });
  await waitFor(() => named(`process ${definition.name}`).length === 2, 15_000);

  for (const topic of ['first', 'second']) {
    const [request] = named(`POST /${topic}`);
    const create = creates.find((span) => traceOf(span) === traceOf(request));
    const process = named(`process ${definition.name}`).find((span) => traceOf(span) === traceOf(request));
    expect(create?.kind).toBe(SpanKind.PRODUCER);
    expect(create?.attributes).toMatchObject({ 'messaging.operation.type': 'create', 'messaging.destination.name': definition.name, 'tenant.id': 'acme' });
    expect(parentOf(create)).toBe(idOf(request));
    // The attempt is a child of the span that wrote the row, in the request's trace.
    expect(parentOf(process)).toBe(idOf(create));
    expect(process?.attributes['job.outcome']).toBe('completed');
  }
  // The relay's batch is a trace of its own, linked to the creation context of each row it moved.
  const [batch] = named(`relay ${definition.name}`);
  expect(batch).toBeDefined();
  expect(parentOf(batch)).toBeUndefined();
  expect(linked(batch).map((link) => link.spanId).sort()).toEqual(creates.map((span) => idOf(span)).sort());
  const [enqueue] = named(`enqueue ${definition.name}`);
  expect(parentOf(enqueue)).toBe(idOf(batch));
  expect(traceOf(batch)).not.toBe(traceOf(creates[0]));
});

test('a notification written in a transaction is relayed in the writer\u2019s trace: request -> create -> relay -> notifyOnce -> enqueue', async () => {
  const { schema, relay } = await setup();
  const input = {
    tenantId: 'acme',
    type: 'invoice-paid',
    dedupeKey: `inv-${uniquePrefix('n')}`,
    channel: 'email' as const,
    payload: { to: 'ada@acme.test', subject: 'Payment received', text: 'secret body 77' },
  };
  await inRequest('invoices', () => context.db.transaction((client) => notifyOnceInTransaction(client, input, { outboxSchema: schema })));
  expect(await relay.drain()).toBe(1);
  const queue = notificationQueue('email').name;
  const [request] = named('POST /invoices');
  const [create] = named(`create ${queue}`);
  const [relayed] = named(`relay ${queue}`);
  const [notify] = named('notifyOnce email');
  const [enqueue] = named(`enqueue ${queue}`);
  const chain = [request, create, relayed, notify, enqueue];
  expect(chain.map((span) => span?.name)).toEqual(['POST /invoices', `create ${queue}`, `relay ${queue}`, 'notifyOnce email', `enqueue ${queue}`]);
  for (let i = 1; i < chain.length; i += 1) expect([chain[i]!.name, parentOf(chain[i])]).toEqual([chain[i]!.name, idOf(chain[i - 1])]);
  for (const span of chain) expect(traceOf(span)).toBe(traceOf(request));
  // Nothing of the payload in any attribute.
  expect(JSON.stringify(spans().map((span) => span.attributes))).not.toContain('secret body 77');
});

test('with tracing off, the row stores no trace context and the job carries none', async () => {
  configureTelemetry({ tracerProvider: false });
  try {
    const { schema, definition, relay } = await setup();
    const { jobId } = await inRequest('untraced', () => context.db.transaction((client) => enqueueInTransaction(client, definition, { tenantId: 'acme', topic: 'off' }, { outboxSchema: schema })));
    const stored = await context.db.pool.query<{ traceparent: string | null; tracestate: string | null }>(`SELECT traceparent, tracestate FROM "${schema}".outbox`);
    expect(stored.rows).toEqual([{ traceparent: null, tracestate: null }]);
    expect(await relay.drain()).toBe(1);
    const job = await definition.queue.getJob(jobId);
    expect((job?.opts as { telemetry?: unknown } | undefined)?.telemetry).toBeUndefined();
    expect(spans().filter((span) => span.name !== 'POST /untraced')).toEqual([]);
  } finally {
    configureTelemetry({ tracerProvider: provider });
  }
});
