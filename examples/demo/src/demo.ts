/**
 * `npm run demo`: the agent service and the notification service together, a burst of traffic
 * from five tenants, and a summary. Exits 0 only if no job was lost.
 * Uses REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server. DEMO_SECONDS sets the traffic time.
 */
import { closeSharedConnections } from '@platform/queue';
import { runDemo } from './run-demo';

runDemo({ trafficSeconds: Number(process.env.DEMO_SECONDS ?? 6) })
  .then(async (result) => {
    await closeSharedConnections();
    process.exit(result.lost === 0 && result.failures === 0 ? 0 : 1);
  })
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
