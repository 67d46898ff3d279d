// Child process for the concurrency test: acquires a lease on the built @platform/ratelimit,
// prints "acquired <id>" and then holds it forever (the test kills it with SIGKILL).
// argv: redisUrl prefix provider tenantId maxInFlight leaseMs
'use strict';
// The test's Redis: a URL, or redis-cluster://… on a cluster run (@platform/testing's testRedisTarget).
const { connectTestRedis } = require('@platform/testing');
const { createConcurrencyLimiter } = require('@platform/ratelimit');

const [redisUrl, prefix, provider, tenantId, maxInFlight, leaseMs] = process.argv.slice(2);
const redis = connectTestRedis(redisUrl);
const limiter = createConcurrencyLimiter({ redis, prefix, provider, maxInFlight: Number(maxInFlight), leaseMs: Number(leaseMs) });

limiter.acquire(tenantId).then((result) => {
  process.stdout.write(result.acquired ? `acquired ${result.lease.id}\n` : 'refused\n');
  setInterval(() => {}, 1000);
});
