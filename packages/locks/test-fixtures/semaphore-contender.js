// Child process of semaphore.test.ts: `contenders` concurrent loops of `iterations` sections under
// a semaphore of `limit` slots. Inside, INCR/DECR a shared counter of holders and print the highest
// value it returned (JSON on stdout): it would exceed `limit` if the semaphore over-admitted.
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { withSemaphore } = require('@platform/locks');

async function main() {
  const [url, key, insideKey, limitText, contendersText, iterationsText] = process.argv.slice(2);
  const redis = connectTestRedis(url);
  let max = 0;
  let sections = 0;
  const loop = async () => {
    for (let i = 0; i < Number(iterationsText); i++) {
      await withSemaphore(
        redis,
        key,
        async () => {
          const inside = await redis.incr(insideKey);
          max = Math.max(max, inside);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          await redis.decr(insideKey);
          sections++;
        },
        { limit: Number(limitText), ttlMs: 10_000, waitMs: 60_000 },
      );
    }
  };
  await Promise.all(Array.from({ length: Number(contendersText) }, loop));
  process.stdout.write(JSON.stringify({ max, sections }));
  await redis.quit();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
