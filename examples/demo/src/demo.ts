/**
 * `npm run demo`: the agent service and the notification service together, a burst of traffic
 * from five tenants, and a summary. Exits 0 only if no job was lost.
 * Uses REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server. DEMO_SECONDS sets the traffic time.
 * With `--dashboard` it serves the dashboard on its queues (port 3000, or `--dashboard-port N`).
 */
import { closeSharedConnections } from '@platform/queue';
import { runDemo } from './run-demo';

// `npm run demo -- --dashboard [--dashboard-port N]`: the dashboard stays up until Ctrl-C.
const args = process.argv.slice(2);
const portAt = args.indexOf('--dashboard-port');
const dashboard = args.includes('--dashboard')
  ? {
      port: portAt >= 0 ? Number(args[portAt + 1]) : 3000,
      beforeClose: (url: string) =>
        new Promise<void>((resolve) => {
          console.log(`Dashboard still at ${url}: Ctrl-C to stop the demo.`);
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        }),
    }
  : undefined;

runDemo({ trafficSeconds: Number(process.env.DEMO_SECONDS ?? 6), ...(dashboard ? { dashboard } : {}) })
  .then(async (result) => {
    await closeSharedConnections();
    process.exit(result.lost === 0 && result.failures === 0 ? 0 : 1);
  })
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
