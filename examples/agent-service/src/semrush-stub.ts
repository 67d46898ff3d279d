import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local HTTP server standing in for SEMrush's keyword API. */
export interface SemrushStub {
  readonly url: string;
  /** Requests answered, by tenant (from the `x-tenant-id` header). */
  readonly calls: Map<string, number>;
  close(): Promise<void>;
}

/** Starts the stub on 127.0.0.1 and a free port. It answers `GET /keywords?phrase=…` with JSON. */
export async function startSemrushStub(): Promise<SemrushStub> {
  const calls = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const tenantId = String(request.headers['x-tenant-id'] ?? 'unknown');
    calls.set(tenantId, (calls.get(tenantId) ?? 0) + 1);
    const phrase = new URL(request.url ?? '/', 'http://stub').searchParams.get('phrase') ?? '';
    const body = JSON.stringify({ phrase, volume: 1000 + phrase.length * 37, difficulty: phrase.length % 100 });
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    }, 5);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
