// Traces and logs end to end, with the OpenTelemetry SDK's in-memory exporter: one trace from an
// HTTP-like span through enqueue, handler, notifyOnce, the notification worker and the provider's
// HTTP call; one span per attempt; nothing secret in any attribute; throttled JSON logs.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SpanKind, context, trace, type AttributeValue } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { closeNotificationQueues, createMemorySender, createNotificationWorker, createWebhookSender, notifyDigest, notifyOnce } from '@platform/notifications';
import { createWorker, defineQueue, tenantSchedules, type QueueDefinition } from '@platform/queue';
import { DeferJobError, closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { configureTelemetry, type Logger } from '@platform/telemetry';
import { deleteKeysByPrefix, findFreePort, uniquePrefix, waitFor } from '@platform/testing';
import type { Worker } from 'bullmq';
import { pino } from 'pino';
import { z } from 'zod';
import { CutProxy } from '../faults/helpers';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefix = uniquePrefix('otel');
const keyPrefix = uniquePrefix('otelkp');
const closers: Array<() => Promise<unknown>> = [];

// Markers that must never reach a span: payload contents and credentials.
const SECRET_TOPIC = 'confidential-merger-plan-4711';
const SECRET_TEXT = 'salary table for acme 9f2c';
const BEARER = 'sk_live_do_not_trace_8c1e';

function jsonLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(stream), lines };
}

function agentQueue(name: string): QueueDefinition<z.ZodObject<{ topic: z.ZodString }>> {
  const definition = defineQueue({ namespace: 'otel', name, schema: z.object({ topic: z.string() }), prefix, connection: redis });
  closers.push(() => definition.close());
  return definition;
}

function startWorker<W extends Worker>(worker: W): W {
  closers.push(() => worker.close());
  return worker;
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;

/** Every string in every attribute, event attribute and link attribute of the finished spans. */
function attributeStrings(): string[] {
  const values: AttributeValue[] = [];
  for (const span of spans()) {
    values.push(...Object.values(span.attributes).filter((v) => v !== undefined));
    for (const event of span.events) values.push(...Object.values(event.attributes ?? {}).filter((v) => v !== undefined));
    for (const link of span.links) values.push(...Object.values(link.attributes ?? {}).filter((v) => v !== undefined));
  }
  return values.flatMap((value) => (Array.isArray(value) ? value.map(String) : [String(value)]));
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  configureTelemetry({ tracerProvider: provider });
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  exporter.reset();
});

afterAll(async () => {
  configureTelemetry();
  context.disable();
  await closeNotificationQueues();
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await deleteKeysByPrefix(redis, `${keyPrefix}:`);
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

describe('traces', () => {
  it('one trace from an HTTP-like span through enqueue, handler, notifyOnce and the notification worker to the provider call', async () => {
    const received: IncomingHttpHeaders[] = [];
    const server: Server = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"msg-1"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;

    const reports = agentQueue('reports');
    startWorker(
      createWorker(
        reports,
        async (job, { tenantId }) => {
          await notifyOnce(
            { tenantId, type: 'report-ready', dedupeKey: String(job.id), channel: 'email', payload: { to: 'ada@acme.test', subject: 'Report', text: SECRET_TEXT } },
            { keyPrefix, connection: redis },
          );
        },
        { connection: workerConnection, handleSignals: false },
      ),
    );
    startWorker(
      createNotificationWorker('email', createWebhookSender({ url, headers: { authorization: `Bearer ${BEARER}` } }), {
        keyPrefix,
        connection: workerConnection,
        handleSignals: false,
      }),
    );

    const tracer = provider.getTracer('test');
    await tracer.startActiveSpan('POST /reports', { kind: SpanKind.SERVER }, async (span) => {
      await reports.enqueue({ tenantId: 'acme', topic: SECRET_TOPIC });
      span.end();
    });

    await waitFor(() => named('process notifications__email').some((span) => span.attributes['job.outcome'] === 'completed'), 15_000);
    const [http] = named('POST /reports');
    const [enqueue] = named(`enqueue otel__reports`);
    const [process] = named('process otel__reports');
    const [notify] = named('notifyOnce email');
    const [enqueueNotification] = named('enqueue notifications__email');
    const [processNotification] = named('process notifications__email');
    const [send] = named('send email');
    const chain = [http, enqueue, process, notify, enqueueNotification, processNotification, send];
    expect(chain.every((span) => span !== undefined)).toBe(true);
    for (const span of chain) expect(span!.spanContext().traceId).toBe(http!.spanContext().traceId);
    for (let i = 1; i < chain.length; i += 1) expect([chain[i]!.name, parentOf(chain[i]!)]).toEqual([chain[i]!.name, idOf(chain[i - 1]!)]);

    expect(enqueue!.kind).toBe(SpanKind.PRODUCER);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(send!.kind).toBe(SpanKind.CLIENT);
    expect(process!.attributes).toMatchObject({ 'tenant.id': 'acme', 'messaging.destination.name': 'otel__reports', 'job.attempt': 1, 'job.outcome': 'completed' });
    expect(process!.attributes['messaging.message.id']).toBe(enqueue!.attributes['messaging.message.id']);
    expect(notify!.attributes).toMatchObject({ 'tenant.id': 'acme', 'notification.type': 'report-ready', 'notification.enqueued': true });
    expect(send!.attributes).toMatchObject({ 'notification.provider': 'webhook', 'tenant.id': 'acme', 'job.attempt': 1 });
    // The provider's HTTP request carries the send span's W3C context.
    expect(received).toHaveLength(1);
    expect(received[0]!.traceparent).toBe(`00-${send!.spanContext().traceId}-${idOf(send!)}-01`);

    const strings = attributeStrings();
    const password = loadRedisConfig().password;
    for (const secret of [SECRET_TOPIC, SECRET_TEXT, 'ada@acme.test', BEARER, ...(password ? [password] : [])]) {
      expect(strings.filter((value) => value.includes(secret))).toEqual([]);
    }

    // A second notifyOnce with the same key is a dedupe hit: an event, no enqueue.
    exporter.reset();
    await notifyOnce(
      { tenantId: 'acme', type: 'report-ready', dedupeKey: String(process!.attributes['messaging.message.id']), channel: 'email', payload: { to: 'ada@acme.test', subject: 'Report', text: 'again' } },
      { keyPrefix, connection: redis },
    );
    const [duplicate] = named('notifyOnce email');
    expect(duplicate!.attributes['notification.enqueued']).toBe(false);
    expect(duplicate!.events.map((event) => event.name)).toEqual(['notification.dedupe_hit']);
    expect(named('enqueue notifications__email')).toHaveLength(0);
  });

  it('a retried job has one span per attempt, each a child of the same enqueue span', async () => {
    const flaky = agentQueue('flaky');
    let runs = 0;
    startWorker(
      createWorker(
        flaky,
        async () => {
          runs += 1;
          if (runs < 3) throw new Error(`attempt ${runs} failed`);
          return 'ok';
        },
        { connection: workerConnection, handleSignals: false },
      ),
    );
    const job = await flaky.enqueue({ tenantId: 'acme', topic: SECRET_TOPIC }, { attempts: 3, backoff: { type: 'fixed', delay: 20 } });
    await waitFor(() => named('process otel__flaky').length === 3, 15_000);

    const [enqueue] = named('enqueue otel__flaky');
    const attempts = named('process otel__flaky').sort((a, b) => Number(a.attributes['job.attempt']) - Number(b.attributes['job.attempt']));
    expect(attempts.map((span) => [span.attributes['job.attempt'], span.attributes['job.outcome'], span.status.code])).toEqual([
      [1, 'retry', 2],
      [2, 'retry', 2],
      [3, 'completed', 0],
    ]);
    expect(new Set(attempts.map(idOf)).size).toBe(3);
    for (const span of attempts) {
      expect(parentOf(span)).toBe(idOf(enqueue!));
      expect(span.spanContext().traceId).toBe(enqueue!.spanContext().traceId);
      expect(span.attributes['messaging.message.id']).toBe(job.id);
    }
    expect(attributeStrings().filter((value) => value.includes(SECRET_TOPIC))).toEqual([]);
  });

  it('a deferral is an event on its run, not a failure, and spends no attempt', async () => {
    const busy = agentQueue('busy');
    let runs = 0;
    startWorker(
      createWorker(
        busy,
        async () => {
          runs += 1;
          if (runs === 1) throw new DeferJobError(30, 'tenant-busy');
        },
        { connection: workerConnection, handleSignals: false },
      ),
    );
    await busy.enqueue({ tenantId: 'acme', topic: 't' });
    await waitFor(() => named('process otel__busy').length === 2, 15_000);
    const [deferred, completed] = named('process otel__busy');
    expect([deferred!.attributes['job.outcome'], deferred!.status.code]).toEqual(['deferred', 0]);
    expect(deferred!.events.map((event) => [event.name, event.attributes?.['deferral.reason']])).toEqual([['job.deferred', 'tenant-busy']]);
    expect([completed!.attributes['job.outcome'], completed!.attributes['job.attempt']]).toEqual(['completed', 1]);
  });

  it('each run of a tenant schedule starts its own trace, linked to the span that set the schedule up', async () => {
    const nightly = agentQueue('nightly');
    let runs = 0;
    startWorker(createWorker(nightly, async () => void (runs += 1), { connection: workerConnection, handleSignals: false }));
    await tenantSchedules.schedule(nightly, 'acme', 'every-300ms', { every: 300 }, { topic: SECRET_TOPIC });
    await waitFor(() => named('process otel__nightly').length >= 2, 15_000);
    await tenantSchedules.remove(nightly, 'acme', 'every-300ms');

    const [schedule] = named('schedule otel__nightly');
    expect(schedule!.attributes).toMatchObject({ 'tenant.id': 'acme', 'schedule.id': 'every-300ms' });
    const runsSpans = named('process otel__nightly').slice(0, 2);
    expect(new Set(runsSpans.map((span) => span.spanContext().traceId)).size).toBe(2);
    for (const span of runsSpans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(schedule!.spanContext().traceId);
      expect(span.links.map((link) => link.context.spanId)).toEqual([idOf(schedule!)]);
      expect(span.attributes['tenant.id']).toBe('acme');
    }
    expect(attributeStrings().filter((value) => value.includes(SECRET_TOPIC))).toEqual([]);
  });

  it("a digest's delivery is traced from its first item, and its send span links to every item's trace", async () => {
    const sender = createMemorySender<'email'>();
    startWorker(createNotificationWorker('email', sender, { keyPrefix, connection: workerConnection, handleSignals: false }));
    const tracer = provider.getTracer('test');
    const itemTraces: string[] = [];
    for (const name of ['lead-a', 'lead-b']) {
      await tracer.startActiveSpan(`POST /leads/${name}`, async (span) => {
        itemTraces.push(span.spanContext().traceId);
        await notifyDigest(
          {
            tenantId: 'acme', type: 'new-leads', recipientKey: 'user-1', channel: 'email', item: { name }, itemKey: name,
            windowMs: 200, maxWaitMs: 2000, maxItems: 50,
            render: (leads: { name: string }[]) => ({ to: 'ada@acme.test', subject: `${leads.length} new leads`, text: leads.map((l) => l.name).join('\n') }),
          },
          { keyPrefix, connection: redis },
        );
        span.end();
      });
    }
    await waitFor(() => sender.messages.length === 1 && named('send email').length === 1, 15_000);
    const [send] = named('send email');
    expect(send!.spanContext().traceId).toBe(itemTraces[0]);
    expect(send!.links.map((link) => link.context.traceId).sort()).toEqual([...itemTraces].sort());
    expect(named('notifyDigest email')).toHaveLength(2);
  });

  it('off: no span and no trace context in the job', async () => {
    configureTelemetry({ tracerProvider: false });
    try {
      const quiet = agentQueue('quiet');
      const job = await trace.getTracer('test').startActiveSpan('parent', async (span) => {
        const added = await quiet.enqueue({ tenantId: 'acme', topic: 't' });
        span.end();
        return added;
      });
      const stored = await quiet.queue.getJob(job.id!);
      expect(stored!.opts.telemetry).toBeUndefined();
      expect(named('enqueue otel__quiet')).toHaveLength(0);
    } finally {
      configureTelemetry({ tracerProvider: provider });
    }
  });
});

describe('logs', () => {
  it('a hard time limit writes a warn line with tenant, queue, job id and the trace id, and an event on the span', async () => {
    const { logger, lines } = jsonLogger();
    const slow = agentQueue('slow');
    startWorker(
      // Never settles and ignores its signal: only the hard limit ends the attempt.
      createWorker(slow, () => new Promise(() => undefined), {
        connection: workerConnection,
        handleSignals: false,
        logger,
      }),
    );
    const job = await slow.enqueue({ tenantId: 'acme', topic: 't' }, { attempts: 1, timeouts: { hardMs: 200 } });
    await waitFor(() => named('process otel__slow').length === 1, 15_000);
    const [span] = named('process otel__slow');
    expect(span!.attributes['job.outcome']).toBe('failed');
    expect(span!.events.map((event) => [event.name, event.attributes?.['time_limit.kind']])).toEqual([['job.time_limit', 'hard'], ['exception', undefined]]);
    const warn = lines.find((line) => line.msg === 'job reached its hard time limit');
    expect(warn).toMatchObject({ level: 40, tenantId: 'acme', queue: 'otel__slow', jobId: job.id, trace_id: span!.spanContext().traceId, span_id: idOf(span!) });
  });

  it('a connection cut produces throttled JSON lines with the queue and the error', async () => {
    const { logger, lines } = jsonLogger();
    const direct = loadRedisConfig();
    const proxy = await CutProxy.start(await findFreePort(), direct.port);
    closers.push(() => proxy.close());
    const cutConnection = createRedisConnection({ ...direct, host: '127.0.0.1', port: proxy.port }, { role: 'worker' });
    closers.push(async () => cutConnection.disconnect());
    const definition = defineQueue({ namespace: 'otel', name: 'cut', schema: z.object({ topic: z.string() }), prefix, connection: redis });
    closers.push(() => definition.close());
    const worker = createWorker(definition, async () => undefined, { connection: cutConnection, handleSignals: false, logger });
    // Forced: a graceful close would wait for the blocking fetch on the cut connection.
    closers.push(() => worker.close(true));
    await worker.waitUntilReady();
    let errors = 0;
    worker.on('error', () => (errors += 1));

    await proxy.cut();
    await waitFor(() => errors >= 3, 15_000);
    await proxy.restore();

    const workerLines = lines.filter((line) => line.component === 'worker');
    expect(workerLines).toHaveLength(1);
    expect(workerLines[0]).toMatchObject({ level: 50, queue: 'otel__cut', msg: 'connection error (retrying in the background)', suppressed: 0 });
    expect(typeof (workerLines[0]!.error as { message?: unknown }).message).toBe('string');
    expect(typeof workerLines[0]!.time).toBe('number');
  });
});
