// Child process for notify.test.ts: calls notifyOnce with a queue whose enqueue never returns, says
// "claimed" once the dedupe key is claimed, and waits to be killed (SIGKILL) by the test.
// argv: redisUrl tenantId pendingTtlMs keyPrefix
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { notifyOnce } = require('@platform/notifications');
const { notificationQueue } = require('@platform/queue');

const [redisUrl, tenantId, pendingTtlMs, keyPrefix] = process.argv.slice(2);
const connection = connectTestRedis(redisUrl);
const real = notificationQueue('email', { connection, prefix: `${keyPrefix}:bull` });
const hanging = {
  name: real.name,
  payloadSchema: real.payloadSchema,
  settings: real.settings,
  parse: real.parse,
  queue: real.queue,
  enqueue: () => {
    process.stdout.write('claimed\n');
    return new Promise(() => {});
  },
};
notifyOnce(
  {
    tenantId,
    type: 'activity-completed',
    dedupeKey: 'activity-1',
    channel: 'email',
    payload: { to: 'ada@example.test', subject: 'Your report is ready', text: 'See the dashboard.' },
  },
  { connection, queue: hanging, pendingTtlMs: Number(pendingTtlMs), keyPrefix },
).catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
