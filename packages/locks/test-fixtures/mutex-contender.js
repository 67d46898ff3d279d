// Child process of mutex.test.ts: runs `contenders` concurrent loops of `iterations` critical
// sections each on one lock, and prints [enterNs, exitNs, fence] per section as JSON on stdout.
// Inside each section it does a read-await-write of a shared counter: a second holder would lose
// an update. hrtime is CLOCK_MONOTONIC, shared by every process on the machine.
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { acquireLock } = require('@platform/locks');

async function main() {
  const [url, key, counterKey, contendersText, iterationsText] = process.argv.slice(2);
  const contenders = Number(contendersText);
  const iterations = Number(iterationsText);
  const redis = connectTestRedis(url);
  const records = [];
  const loop = async () => {
    for (let i = 0; i < iterations; i++) {
      const lock = await acquireLock(redis, key, { ttlMs: 10_000, waitMs: 60_000 });
      if (!lock) throw new Error('lock not acquired within waitMs');
      const enter = process.hrtime.bigint();
      const value = Number((await redis.get(counterKey)) ?? 0);
      await new Promise((resolve) => setImmediate(resolve));
      await redis.set(counterKey, String(value + 1), 'PX', 120_000);
      const exit = process.hrtime.bigint();
      records.push([enter.toString(), exit.toString(), lock.fence]);
      if (!(await lock.release())) throw new Error('release returned false');
    }
  };
  await Promise.all(Array.from({ length: contenders }, loop));
  process.stdout.write(JSON.stringify(records));
  await redis.quit();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
