// Child process for the exactness test: waits for "go" on stdin, then fires `count` concurrent
// consumes on the built @platform/ratelimit and prints {"allowed": n} on stdout.
// argv: redisUrl prefix provider tenantId algorithm limit windowSeconds count
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { createRateLimiter } = require('@platform/ratelimit');

const [redisUrl, prefix, provider, tenantId, algorithm, limit, windowSeconds, count] = process.argv.slice(2);
const redis = connectTestRedis(redisUrl);
const limiter = createRateLimiter({
  redis,
  prefix,
  provider,
  algorithm,
  limit: Number(limit),
  windowSeconds: Number(windowSeconds),
});

redis.once('ready', () => {
  // Load the script before the race, so every call is one EVALSHA.
  limiter.peek(tenantId).then(() => process.stdout.write('ready\n'));
});
process.stdin.once('data', async () => {
  const results = await Promise.all(Array.from({ length: Number(count) }, () => limiter.consume(tenantId)));
  process.stdout.write(JSON.stringify({ allowed: results.filter((r) => r.allowed).length }) + '\n');
  await redis.quit();
  process.exit(0);
});
