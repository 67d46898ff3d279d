/**
 * The agent service as it runs in a container: workers for every agent role and RAG ingestion
 * until SIGTERM. `SEMRUSH_URL` points at the SEMrush API (a local stub is started when unset);
 * `OTEL_EXPORTER_OTLP_ENDPOINT` sends traces to an OpenTelemetry collector (OTLP/HTTP).
 */
import { closeSharedConnections, createRedisConnection, loadRedisConfig } from '@platform/queue';
import { startAgentService } from './service';
import { startSemrushStub } from './semrush-stub';
import { startTracing } from './tracing';

async function main(): Promise<void> {
  const config = loadRedisConfig();
  // Before any queue or worker exists, so every span has the provider.
  const tracing = await startTracing();
  const stub = process.env.SEMRUSH_URL ? undefined : await startSemrushStub();
  const redis = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const service = startAgentService({ redis, workerConnection, semrushUrl: process.env.SEMRUSH_URL ?? stub!.url, handleSignals: false });
  console.log(`agent-service: ${service.queues.map((q) => q.name).join(', ')} on ${config.displayUrl}${tracing ? `, traces to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}` : ''}`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void (async () => {
        await service.close();
        await stub?.close();
        redis.disconnect();
        workerConnection.disconnect();
        await closeSharedConnections();
        await tracing?.shutdown();
        process.exit(0);
      })();
    });
  }
}

void main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
