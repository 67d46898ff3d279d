// Child process of crash.test.ts: takes a lock (`lock`) or a semaphore slot (`semaphore`), prints
// one JSON line once it holds it, then idles until it is killed.
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { acquireLock, acquireSemaphore } = require('@platform/locks');

async function main() {
  const [url, mode, key, ttlText, limitText] = process.argv.slice(2);
  const redis = connectTestRedis(url);
  const ttlMs = Number(ttlText);
  if (mode === 'lock') {
    const lock = await acquireLock(redis, key, { ttlMs });
    process.stdout.write(JSON.stringify({ acquired: lock !== null, fence: lock && lock.fence }) + '\n');
  } else {
    const lease = await acquireSemaphore(redis, key, { limit: Number(limitText), ttlMs });
    process.stdout.write(JSON.stringify({ acquired: lease !== null }) + '\n');
  }
  setInterval(() => undefined, 60_000);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
