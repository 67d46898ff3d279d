import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard, type DashboardHandler } from './handler';
import type { DashboardOptions } from './options';

/** Options of {@link serveDashboard}. */
export interface ServeDashboardOptions extends DashboardOptions {
  /** TCP port; `0` picks a free one. @defaultValue `3000` */
  port?: number;
  /** Address to listen on. @defaultValue `'127.0.0.1'` */
  host?: string;
}

/** A running dashboard server. */
export interface RunningDashboard {
  /** `http://host:port` plus the base path. */
  url: string;
  port: number;
  server: Server;
  handler: DashboardHandler;
  /** Stops the server and closes the dashboard. */
  close(): Promise<void>;
}

/** Starts a standalone dashboard server (what `platform dashboard` runs). */
export async function serveDashboard(options: ServeDashboardOptions = {}): Promise<RunningDashboard> {
  const { port = 3000, host = '127.0.0.1', ...dashboardOptions } = options;
  const handler = createDashboard(dashboardOptions);
  const server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    await handler.close();
    throw error;
  }
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}${(options.basePath ?? '').replace(/\/+$/, '')}/`,
    port: actual,
    server,
    handler,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await handler.close();
    },
  };
}
