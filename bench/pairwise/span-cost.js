// What one OpenTelemetry SDK span costs on its own (bench/README.md, "Tracing, round 5"): a span
// built as the platform's attempt span (8 attributes, the outcome set, ended) through a
// BatchSpanProcessor into the in-memory exporter, with no context manager, 50,000 per run, 5 runs.
// Prints CPU µs per span. Run from the repository: `node bench/pairwise/span-cost.js` (any Node version).
'use strict';
const { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, AlwaysOnSampler } = require('@opentelemetry/sdk-trace-base');
const { SpanKind, ROOT_CONTEXT, trace } = require('@opentelemetry/api');
const exporter = new InMemorySpanExporter();
const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 200 });
const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
const tracer = provider.getTracer('x');
const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
async function run(n) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan('process agent__x', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'bullmq', 'messaging.operation.type': 'process', 'messaging.destination.name': 'agent__x', 'messaging.bullmq.job.name': 'x', 'job.attempt': 1, 'messaging.message.id': String(i), 'tenant.id': 't' + (i % 100) } }, parent);
    span.setAttribute('job.outcome', 'completed');
    span.end();
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await processor.forceFlush(); exporter.reset();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
async function main() {
  for (let r = 0; r < 5; r++) console.log('CPU µs per span', (await run(50000)).toFixed(2));
  await provider.shutdown();
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
