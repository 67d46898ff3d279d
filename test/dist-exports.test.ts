/**
 * Services import the packages from their built `dist/` through the `exports` map, in CommonJS and
 * in ESM. This checks both, for the names of the public contract (`npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const contract: Record<string, string[]> = {
  '@platform/redis': ['loadRedisConfig', 'createRedisConnection', 'getSharedConnection', 'closeSharedConnections', 'redisKey', 'PlatformError', 'ConfigError'],
  '@platform/queue': ['queueName', 'defineQueue', 'createWorker', 'agentQueue', 'ragIngestionQueue', 'notificationQueue', 'QueueNameError', 'PayloadValidationError', 'PayloadTooLargeError', 'loadRedisConfig', 'createRedisConnection', 'getSharedConnection', 'closeSharedConnections', 'redisKey'],
  '@platform/notifications': ['notifyOnce', 'createNotificationWorker', 'getNotificationStatus', 'createWebhookSender'],
  '@platform/sessions': ['createSessionStore', 'createResumeCache', 'expressSessionStore', 'SessionConflictError', 'SessionTooLargeError'],
  '@platform/outbox': ['enqueueInTransaction', 'notifyOnceInTransaction', 'startOutboxRelay', 'withSendLog', 'migrateOutbox', 'getOutboxLag'],
  '@platform/dashboard': ['createDashboard', 'serveDashboard', 'expressDashboard', 'fastifyDashboard'],
  '@platform/telemetry': ['configureTelemetry', 'resolveLogger'],
};

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: join(__dirname, '..'), encoding: 'utf8' });
}

describe.each(Object.entries(contract))('%s', (name, exports) => {
  it('exports the contract to CommonJS (require)', () => {
    const out = run(['-e', `const m = require(${JSON.stringify(name)}); console.log(JSON.stringify(${JSON.stringify(exports)}.filter((k) => typeof m[k] !== 'function')))`]);
    expect(JSON.parse(out)).toEqual([]);
  });

  it('exports the contract to ESM (import)', () => {
    const out = run(['--input-type=module', '-e', `const m = await import(${JSON.stringify(name)}); console.log(JSON.stringify(${JSON.stringify(exports)}.filter((k) => typeof m[k] !== 'function')))`]);
    expect(JSON.parse(out)).toEqual([]);
  });
});
