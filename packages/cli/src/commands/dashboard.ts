import { platformTenantControls, serveDashboard } from '@platform/dashboard';
import { signalOnInterrupt, type CliContext } from '../context';
import { parsePort } from '../format';

/** Options of `platform dashboard`. */
export interface DashboardCommandOptions {
  port: string;
  host: string;
  prefix?: string;
  basePath?: string;
}

/**
 * `platform dashboard --port N`: serves the web dashboard until SIGINT/SIGTERM. Authentication comes
 * from PLATFORM_DASHBOARD_TOKEN (admin) and PLATFORM_DASHBOARD_VIEWER_TOKEN (read only); without
 * either it refuses to start (exit 2).
 */
export async function dashboardCommand(ctx: CliContext, options: DashboardCommandOptions): Promise<void> {
  const port = parsePort(options.port);
  const running = await serveDashboard({
    port,
    host: options.host,
    redis: ctx.redis(),
    env: ctx.io.env,
    // The pause/resume/limits buttons write the platform's runtime tenant controls.
    controls: platformTenantControls({ redis: ctx.redis(), prefix: ctx.bullPrefix(options.prefix) }),
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
  });
  ctx.err(`platform dashboard: serving ${running.url} for ${ctx.config.displayUrl} (Ctrl-C to stop)`);
  const { signal, dispose } = signalOnInterrupt();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  dispose();
  await running.close();
}
