/**
 * Traces of the agent service: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g.
 * `http://otel-collector:4318`), spans are exported with OTLP/HTTP to `<endpoint>/v1/traces` in
 * batches; otherwise nothing is loaded and the packages do no tracing work at all. The SDK and the
 * exporter are optional dependencies of this example: the @platform packages need only the API.
 */
import { configureTelemetry } from '@platform/telemetry';

export interface Tracing {
  /** Flushes the spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'agent-service' }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT) itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Global provider, W3C propagator and the AsyncLocalStorage context manager that carries the
  // active span across awaits (so a handler's notifyOnce is a child of the job's span).
  provider.register();
  configureTelemetry({ tracerProvider: provider });
  return { shutdown: () => provider.shutdown() };
}
