// Child process for digest.test.ts: adds digest items one by one with notifyDigest, says "added <n>"
// after each, and waits to be killed (SIGKILL) by the test between two items.
// argv: redisUrl keyPrefix tenantId count
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { notifyDigest } = require('@platform/notifications');

const [redisUrl, keyPrefix, tenantId, count] = process.argv.slice(2);
const connection = connectTestRedis(redisUrl);

async function main() {
  for (let n = 1; n <= Number(count); n++) {
    await notifyDigest(
      {
        tenantId,
        type: 'new-leads',
        recipientKey: 'owner',
        channel: 'web',
        item: { lead: `lead-${n}` },
        itemKey: `lead-${n}`,
        windowMs: 1500,
        maxWaitMs: 20000,
        maxItems: 100,
        render: () => ({ userId: 'owner', title: 'unused', body: 'unused' }),
      },
      { connection, keyPrefix },
    );
    process.stdout.write(`added ${n}\n`);
  }
  await new Promise(() => {});
}
main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
