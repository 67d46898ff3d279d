import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDashboard, type DashboardHandler } from './handler';
import type { DashboardOptions } from './options';

/** An Express-style middleware (any framework whose middleware gets Node's request and response). */
export type NodeMiddleware = ((request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void) & {
  /** Closes what the dashboard opened. */
  close(): Promise<void>;
};

/**
 * The dashboard as Express middleware. Mount it where `basePath` says:
 * `app.use('/ops', expressDashboard({ basePath: '/ops' }))`. Requests outside `basePath` go to `next()`.
 */
export function expressDashboard(options: DashboardOptions = {}): NodeMiddleware {
  const dashboard = createDashboard(options);
  const middleware = ((request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => {
    // Express strips the mount path from `url` and keeps the full one in `originalUrl`.
    const full = (request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url ?? '/';
    const base = (options.basePath ?? '').replace(/\/+$/, '');
    const path = full.split('?')[0]!;
    if (base !== '' && path !== base && !path.startsWith(`${base}/`)) return next();
    request.url = full;
    dashboard.handle(request, response).catch(next);
  }) as NodeMiddleware;
  middleware.close = () => dashboard.close();
  return middleware;
}

/** The part of a Fastify instance {@link fastifyDashboard} uses (Fastify itself is not a dependency). */
export interface FastifyLike {
  route(options: {
    method: string[];
    url: string;
    onRequest: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => Promise<unknown>;
    handler: () => Promise<void>;
  }): unknown;
  addHook(name: 'onClose', hook: () => Promise<void>): unknown;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The dashboard as a Fastify plugin: `await app.register(fastifyDashboard({ basePath: '/ops' }))`.
 * Its routes take over the raw request before Fastify parses the body (`reply.hijack()`), so the
 * dashboard sees the request exactly as a Node server would. Closed with the Fastify instance.
 */
export function fastifyDashboard(options: DashboardOptions = {}): ((instance: FastifyLike) => Promise<void>) & { dashboard: DashboardHandler } {
  const dashboard = createDashboard(options);
  // Routes under the path createDashboard serves: without a trailing slash.
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const plugin = async (instance: FastifyLike): Promise<void> => {
    const onRequest = async (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => {
      reply.hijack();
      await dashboard.handle(request.raw, reply.raw);
      return reply;
    };
    const handler = async () => undefined;
    for (const url of base === '' ? ['/', '/*'] : [base, `${base}/`, `${base}/*`]) instance.route({ method: METHODS, url, onRequest, handler });
    instance.addHook('onClose', () => dashboard.close());
  };
  return Object.assign(plugin, { dashboard });
}
