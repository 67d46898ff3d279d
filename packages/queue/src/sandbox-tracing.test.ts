// Traces of sandboxed processors, with the OpenTelemetry SDK's in-memory exporter. The child process
// has none of the service's SDK, so the attempt's `process <queue>` span in the worker process
// covers the child's run and carries its outcome; the child receives the attempt's context.
import path from 'node:path';
import { SpanKind, context as otelContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { configureTelemetry, fromJobMetadata } from '@platform/telemetry';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from './define-queue';
import { createWorker } from './worker';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefix = uniquePrefix('qst');
const processorFile = path.join(__dirname, '..', 'fixtures', 'sandboxed-traced.cjs');

beforeAll(() => {
  otelContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  configureTelemetry({ tracerProvider: provider });
});

afterAll(async () => {
  configureTelemetry();
  otelContext.disable();
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await workerConnection.quit();
  await closeSharedConnections();
});

const processSpans = (queue: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === `process ${queue}`);

it('the attempt span covers the child: its outcome and, at the hard limit, the kill; the child gets the attempt\u2019s context', async () => {
  const definition = defineQueue({
    namespace: 'agent',
    name: 'sandboxed-traced',
    schema: z.object({ activityId: z.string(), fail: z.boolean().default(false), loop: z.boolean().default(false) }),
    prefix,
    connection: redis,
    defaultJobOptions: { attempts: 1 },
    timeouts: { hardMs: 60_000 },
  });
  const worker = createWorker(definition, processorFile, { connection: workerConnection, handleSignals: false });
  try {
    const tracer = provider.getTracer('test');
    const enqueue = (activityId: string, extra: { fail?: boolean; loop?: boolean } = {}, opts = {}) =>
      tracer.startActiveSpan(`POST /${activityId}`, async (span) => {
        try {
          return await definition.enqueue({ tenantId: 'acme', activityId, ...extra }, opts);
        } finally {
          span.end();
        }
      });
    const ok = await enqueue('a-ok');
    await waitFor(async () => (await definition.queue.getJobState(ok.id!)) === 'completed', 30_000);
    const failing = await enqueue('a-fail', { fail: true });
    await waitFor(async () => (await definition.queue.getJobState(failing.id!)) === 'failed', 30_000);
    const looping = await enqueue('a-loop', { loop: true }, { timeouts: { hardMs: 3000 } });
    await waitFor(async () => (await definition.queue.getJobState(looping.id!)) === 'failed', 30_000);
    await waitFor(() => processSpans(definition.name).length === 3, 10_000);

    const spanOf = (id: string | undefined) => processSpans(definition.name).find((span) => span.attributes['messaging.message.id'] === id)!;
    const [okSpan, failSpan, loopSpan] = [spanOf(ok.id), spanOf(failing.id), spanOf(looping.id)];
    expect(okSpan.kind).toBe(SpanKind.CONSUMER);
    expect(okSpan.attributes['job.outcome']).toBe('completed');
    // The child received the attempt span's context (not the enqueue's): it can continue this trace.
    const received = fromJobMetadata((await definition.queue.getJob(ok.id!))?.returnvalue);
    expect(received).toMatchObject({ traceId: okSpan.spanContext().traceId, spanId: okSpan.spanContext().spanId });
    // ... while the job in Redis still holds the enqueue's context.
    const stored = fromJobMetadata((await definition.queue.getJob(ok.id!))?.opts.telemetry?.metadata);
    expect(stored?.spanId).toBe(okSpan.parentSpanContext?.spanId);

    expect(failSpan.attributes['job.outcome']).toBe('failed');
    expect(failSpan.status).toMatchObject({ code: 2, message: 'child refused a-fail' });

    expect(loopSpan.attributes['job.outcome']).toBe('failed');
    expect(loopSpan.events.map((event) => event.name)).toEqual(expect.arrayContaining(['job.time_limit', 'job.sandbox_killed']));
    const killed = loopSpan.events.find((event) => event.name === 'job.sandbox_killed');
    expect(typeof killed?.attributes?.['sandbox.child.pid']).toBe('number');
  } finally {
    await worker.close(true);
    await definition.close();
  }
});
