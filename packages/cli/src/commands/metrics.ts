import { createServer } from 'node:http';
import { createMetricsHandler, createQueueMetrics } from '@platform/ops';
import { collectDefaultMetrics } from 'prom-client';
import { signalOnInterrupt, type CliContext } from '../context';
import { parsePort, parsePositiveInt } from '../format';

/** Options of `platform metrics`. */
export interface MetricsCommandOptions {
  port: string;
  host: string;
  prefix?: string;
  top?: string;
  sample?: string;
}

/** `platform metrics --port N`: serves `/metrics` and `/healthz` until SIGINT/SIGTERM. */
export async function metricsCommand(ctx: CliContext, options: MetricsCommandOptions): Promise<void> {
  const port = parsePort(options.port);
  const redis = ctx.redis();
  const metrics = createQueueMetrics({
    redis,
    prefix: ctx.bullPrefix(options.prefix),
    ...(options.top !== undefined ? { topTenants: parsePositiveInt('--top', options.top, true) } : {}),
    ...(options.sample !== undefined ? { tenantSampleSize: parsePositiveInt('--sample', options.sample, true) } : {}),
    providerHealth: () => ctx.providerHealth(),
  });
  collectDefaultMetrics({ register: metrics.registry, prefix: 'platform_cli_' });
  const handler = createMetricsHandler({ registry: metrics.registry, redis });
  const server = createServer((req, res) => {
    void handler.handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  ctx.err(`platform metrics: serving http://${options.host}:${actualPort}/metrics and /healthz for ${ctx.config.displayUrl} (Ctrl-C to stop)`);
  const { signal, dispose } = signalOnInterrupt();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  dispose();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
