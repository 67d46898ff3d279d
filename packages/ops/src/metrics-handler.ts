import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RedisClient } from '@platform/redis';
import type { Registry } from 'prom-client';

/** Options of {@link createMetricsHandler}. */
export interface MetricsHandlerOptions {
  /** The registry to serve (e.g. `createQueueMetrics().registry`). */
  registry: Registry;
  /** Redis PINGed by `/healthz`. Without it `/healthz` always answers 200. */
  redis?: Pick<RedisClient, 'ping'>;
  /** `/healthz` answers 503 when PING takes longer than this. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /** Path of the metrics endpoint. @defaultValue `'/metrics'` */
  metricsPath?: string;
  /** Path of the health endpoint. @defaultValue `'/healthz'` */
  healthPath?: string;
}

/** Body of a `/healthz` answer. */
export interface HealthStatus {
  status: 'ok' | 'unavailable';
  redis: 'up' | 'down' | 'not-configured';
  /** PING round trip, when Redis answered. */
  latencyMs?: number;
  /** Why Redis is considered down. */
  error?: string;
}

/** Node `http` request handlers for `/metrics` and `/healthz`. */
export interface MetricsHandler {
  /** Serves the registry as Prometheus text. */
  metrics(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** PINGs Redis: 200 `{ status: 'ok' }` or 503 `{ status: 'unavailable' }` (JSON). */
  healthz(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Routes `metricsPath` and `healthPath`; answers 404 to anything else. Usable as `http.createServer(handler.handle)`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Runs the health check without HTTP. */
  checkHealth(): Promise<HealthStatus>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Creates `/metrics` (Prometheus text from a prom-client registry) and `/healthz` (Redis PING,
 * 200 or 503 JSON) handlers that a service can mount on its own `node:http` server.
 *
 * @example
 * const metrics = createQueueMetrics({ redis });
 * const handler = createMetricsHandler({ registry: metrics.registry, redis });
 * http.createServer(handler.handle).listen(9464);
 */
export function createMetricsHandler(options: MetricsHandlerOptions): MetricsHandler {
  const timeoutMs = options.healthTimeoutMs ?? 1000;
  const metricsPath = options.metricsPath ?? '/metrics';
  const healthPath = options.healthPath ?? '/healthz';

  const checkHealth = async (): Promise<HealthStatus> => {
    if (!options.redis) return { status: 'ok', redis: 'not-configured' };
    const started = process.hrtime.bigint();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.redis.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`PING not answered within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { status: 'ok', redis: 'up', latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
    } catch (error) {
      return { status: 'unavailable', redis: 'down', error: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  };

  const metrics = async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const body = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(body);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`# metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  };

  const healthz = async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const health = await checkHealth();
    sendJson(res, health.status === 'ok' ? 200 : 503, health);
  };

  return {
    metrics,
    healthz,
    checkHealth,
    async handle(req, res) {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 405, { error: 'method not allowed' });
      } else if (path === metricsPath) {
        await metrics(req, res);
      } else if (path === healthPath) {
        await healthz(req, res);
      } else {
        sendJson(res, 404, { error: 'not found', paths: [metricsPath, healthPath] });
      }
    },
  };
}
