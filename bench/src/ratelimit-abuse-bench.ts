import { once } from 'node:events';
import { createLimiterConnection, createRateLimiter } from '@platform/ratelimit';
import { closeConnection, loadRedisConfig } from '@platform/redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchContext } from './context';
import { throughput } from './measure';
import { alternate, type Contender } from './results';

/**
 * CPU spent per call while `fn` runs `total` calls, `concurrency` in flight: this process's
 * (user + system) and, on a private server, Redis's (`used_cpu_user + used_cpu_sys`). On a loaded
 * machine these move far less than throughput does.
 */
async function withCpu(
  admin: Redis | undefined,
  total: number,
  fn: (i: number) => Promise<unknown>,
): Promise<{ perSecond: number; nodeUs: number; redisUs: number | undefined }> {
  const redisCpu = async () => {
    if (!admin) return 0;
    const info = await admin.info('cpu');
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? Number.NaN);
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? Number.NaN);
    return (user + sys) * 1e6;
  };
  const r0 = await redisCpu();
  const c0 = process.cpuUsage();
  const perSecond = await throughput(total, 50, fn);
  const c = process.cpuUsage(c0);
  const r1 = await redisCpu();
  return { perSecond, nodeUs: (c.user + c.system) / total, redisUs: admin ? (r1 - r0) / total : undefined };
}

interface Subject {
  id: string;
  subject: string;
  consume(tenantId: string): Promise<unknown>;
}

/**
 * Section 2, continued: the abusive mix (half the calls from tenants far over their limit) and
 * allowed decisions on the limiter's own connection (`createLimiterConnection`, auto-pipelining on)
 * against rate-limiter-flexible on a plain client and on an auto-pipelined one. Each figure also
 * records Node and Redis CPU per call.
 */
export async function runRatelimitAbuseBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log, runId } = ctx;
  const section = '2. Rate limiter';
  const plain = ctx.plainClient();
  const autoPipelined = new Redis(ctx.redisUrl, { enableAutoPipelining: true });
  autoPipelined.on('error', () => undefined);
  const limiterConnection = createLimiterConnection(loadRedisConfig({ REDIS_URL: ctx.redisUrl }));
  limiterConnection.on('error', () => undefined);
  const admin = ctx.privateServer ? ctx.plainClient() : undefined;
  try {
    await Promise.all([plain, autoPipelined, limiterConnection].map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
    const n = ctx.size(20_000, 500);
    let round = 0;

    // --- Abusive mix: odd calls from 10 tenants far over their limit, even calls from 1,000 others.
    const limit = 50;
    const windowSeconds = 60;
    const abusive: Subject[] = [
      { id: 'fixed', subject: '@platform/ratelimit fixed-window (defaults: local deny cache on)', consume: consumeOf(createRateLimiter({ redis: plain, provider: `${runId}-ab`, limit, windowSeconds })) },
      {
        id: 'token',
        subject: '@platform/ratelimit token-bucket (defaults)',
        consume: consumeOf(createRateLimiter({ redis: plain, provider: `${runId}-abt`, limit, windowSeconds, algorithm: 'token-bucket' })),
      },
      {
        id: 'rlf',
        subject: 'rate-limiter-flexible RateLimiterRedis (defaults)',
        consume: (() => {
          const rlf = new RateLimiterRedis({ storeClient: plain, useRedisPackage: false, keyPrefix: `${runId}-abrlf`, points: limit, duration: windowSeconds });
          // A refusal rejects with a RateLimiterRes: that is its answer, not a failure.
          return (t: string) => rlf.consume(t).catch((refusal: unknown) => refusal);
        })(),
      },
    ];
    // Fresh tenant names every run, so no run profits from refusals learnt in an earlier one; the
    // 10 abusive tenants send 1,000 calls each per run of 20,000 (20 x their limit).
    const mixTenant = (i: number) => (i % 2 === 1 ? `${runId}-bad${round}-${i % 20}` : `${runId}-ok${round}-${i % 2000}`);
    const benchmark = `abusive mix: 50 in flight, half the calls from 10 tenants 20 x over a limit of ${limit} per ${windowSeconds} s`;
    for (const s of abusive) {
      results.figure({ id: `rl.abuse.${s.id}`, section, benchmark, subject: s.subject, unit: 'calls/s', better: 'higher' });
      results.figure({ id: `rl.abuse.node.${s.id}`, section, benchmark: `${benchmark}, Node CPU per call`, subject: s.subject, unit: 'µs', better: 'lower' });
      if (admin) results.figure({ id: `rl.abuse.redis.${s.id}`, section, benchmark: `${benchmark}, Redis CPU per call`, subject: s.subject, unit: 'µs', better: 'lower' });
    }
    results.compare({ label: 'abusive mix: fixed-window / rate-limiter-flexible (defaults)', platform: 'rl.abuse.fixed', anchor: 'rl.abuse.rlf', op: '>=', target: 2 });
    results.compare({ label: 'abusive mix: token-bucket / rate-limiter-flexible (defaults)', platform: 'rl.abuse.token', anchor: 'rl.abuse.rlf' });
    results.compare({ label: 'abusive mix, Node CPU per call: fixed-window / rate-limiter-flexible', platform: 'rl.abuse.node.fixed', anchor: 'rl.abuse.node.rlf' });
    if (admin) results.compare({ label: 'abusive mix, Redis CPU per call: fixed-window / rate-limiter-flexible', platform: 'rl.abuse.redis.fixed', anchor: 'rl.abuse.redis.rlf' });

    // --- Allowed decisions on each library's connection.
    const high = 1_000_000;
    const onConnection: Subject[] = [
      {
        id: 'fixed-conn',
        subject: '@platform/ratelimit fixed-window on createLimiterConnection (auto-pipelining)',
        consume: consumeOf(createRateLimiter({ redis: limiterConnection, provider: `${runId}-cf`, limit: high, windowSeconds })),
      },
      { id: 'fixed-plain', subject: '@platform/ratelimit fixed-window on a plain ioredis client', consume: consumeOf(createRateLimiter({ redis: plain, provider: `${runId}-pf`, limit: high, windowSeconds })) },
      {
        id: 'rlf-plain',
        subject: 'rate-limiter-flexible on a plain ioredis client',
        consume: (() => {
          const rlf = new RateLimiterRedis({ storeClient: plain, useRedisPackage: false, keyPrefix: `${runId}-crlf`, points: high, duration: windowSeconds });
          return (t: string) => rlf.consume(t);
        })(),
      },
      {
        id: 'rlf-ap',
        subject: 'rate-limiter-flexible on an auto-pipelined ioredis client',
        consume: (() => {
          const rlf = new RateLimiterRedis({ storeClient: autoPipelined, useRedisPackage: false, keyPrefix: `${runId}-arlf`, points: high, duration: windowSeconds });
          return (t: string) => rlf.consume(t);
        })(),
      },
    ];
    const connBenchmark = 'consume, 50 in flight over 1000 tenants, each on its connection';
    for (const s of onConnection) {
      results.figure({ id: `rl.conn.${s.id}`, section, benchmark: connBenchmark, subject: s.subject, unit: 'decisions/s', better: 'higher' });
      results.figure({ id: `rl.conn.node.${s.id}`, section, benchmark: `${connBenchmark}, Node CPU per decision`, subject: s.subject, unit: 'µs', better: 'lower' });
      if (admin) results.figure({ id: `rl.conn.redis.${s.id}`, section, benchmark: `${connBenchmark}, Redis CPU per decision`, subject: s.subject, unit: 'µs', better: 'lower' });
    }
    results.compare({ label: 'fixed-window on createLimiterConnection / rate-limiter-flexible (plain client)', platform: 'rl.conn.fixed-conn', anchor: 'rl.conn.rlf-plain' });
    results.compare({ label: 'fixed-window: createLimiterConnection / plain client', platform: 'rl.conn.fixed-conn', anchor: 'rl.conn.fixed-plain' });
    results.compare({ label: 'rate-limiter-flexible: auto-pipelined / plain client', platform: 'rl.conn.rlf-ap', anchor: 'rl.conn.rlf-plain' });
    results.compare({ label: 'Node CPU per decision: fixed-window on createLimiterConnection / rlf (plain)', platform: 'rl.conn.node.fixed-conn', anchor: 'rl.conn.node.rlf-plain' });
    if (admin) results.compare({ label: 'Redis CPU per decision: fixed-window on createLimiterConnection / rlf (plain)', platform: 'rl.conn.redis.fixed-conn', anchor: 'rl.conn.redis.rlf-plain' });

    const record = async (prefix: string, s: Subject, tenantOf: (i: number) => string) => {
      const { perSecond, nodeUs, redisUs } = await withCpu(admin, n, (i) => s.consume(tenantOf(i)));
      results.add(`${prefix}.${s.id}`, perSecond);
      results.add(`${prefix}.node.${s.id}`, nodeUs);
      if (redisUs !== undefined) results.add(`${prefix}.redis.${s.id}`, redisUs);
      await cleanup();
    };
    const cleanup = async () => {
      for (const prefix of [`ratelimit:${runId}-`, `${runId}-abrlf`, `${runId}-crlf`, `${runId}-arlf`]) await ctx.deleteKeys(prefix);
    };
    // Warm-up: scripts loaded, connections open, JIT warm.
    for (const s of [...abusive, ...onConnection]) await throughput(Math.min(500, n), 50, (i) => s.consume(`${runId}-w${i % 1000}`));
    await cleanup();

    log('  abusive mix');
    await alternate(
      ctx.rounds,
      abusive.map((s): Contender => ({
        name: s.id,
        run: async () => {
          round++;
          await record('rl.abuse', s, mixTenant);
        },
      })),
      log,
    );
    log('  consume on each connection');
    await alternate(
      ctx.rounds,
      onConnection.map((s): Contender => ({ name: s.id, run: () => record('rl.conn', s, (i) => `${runId}-t${i % 1000}`) })),
      log,
    );
    results.notes.push(
      `Rate limiter, abusive mix: limit ${limit} per ${windowSeconds} s, ${n} calls per round at 50 in flight; odd calls from 10 tenants ` +
        '(20 x over their limit), even calls from 1,000 tenants that stay under it; fresh tenant names every round. Platform with its ' +
        'defaults (local deny cache on), rate-limiter-flexible with its defaults (no in-memory block), both on one plain ioredis client. ' +
        'Connection rows: the platform on createLimiterConnection (auto-pipelining) and on a plain client, rate-limiter-flexible on a ' +
        'plain and on an auto-pipelined client. CPU per call: this process (process.cpuUsage) and, on a private server, Redis (INFO cpu).',
    );
  } finally {
    await closeConnection(limiterConnection);
    await closeConnection(autoPipelined);
  }
}

function consumeOf(limiter: { consume(tenantId: string): Promise<unknown> }): (tenantId: string) => Promise<unknown> {
  return (tenantId) => limiter.consume(tenantId);
}
