import type { RedisClient } from '@platform/redis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchContext } from './context';
import { percentile, sequentialLatencies, throughput } from './measure';
import { createRateLimiter } from '@platform/ratelimit';

type LimiterAlgorithm = NonNullable<Parameters<typeof createRateLimiter>[0]['algorithm']>;
type LimiterLike = ReturnType<typeof createRateLimiter>;
import { runRatelimitAbuseBenchmarks } from './ratelimit-abuse-bench';
import { findRedisBenchmark, redisBenchmark } from './redis-benchmark';
import { alternate, type Contender } from './results';

const ALGORITHMS: readonly { algorithm: LimiterAlgorithm; short: string }[] = [
  { algorithm: 'fixed-window', short: 'fixed' },
  { algorithm: 'sliding-window', short: 'sliding' },
  { algorithm: 'sliding-log', short: 'log' },
  { algorithm: 'token-bucket', short: 'token' },
];

/** The bare ceiling: one INCR, and PEXPIRE when the key is new, in one script. */
export const BARE_INCR_EXPIRE_LUA =
  "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

interface Subject {
  id: string;
  subject: string;
  consume(tenantId: string): Promise<unknown>;
  /** Key prefix to delete after each measurement. */
  keyPrefix: string;
}

/** Wraps a client so the first EVALSHA a limiter sends can be replayed by redis-benchmark. */
function recordingClient(client: RedisClient, calls: unknown[][]): RedisClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'evalsha') {
        return (...args: unknown[]) => {
          calls.push(args);
          return (target.evalsha as (...a: unknown[]) => Promise<unknown>)(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Section 2: rate limiter decisions per second, latency, and the redis-benchmark ceiling. */
export async function runRatelimitBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log, runId } = ctx;
  const section = '2. Rate limiter';
  const client = ctx.plainClient();
  const tenants = 1000;
  const tenant = (i: number) => `${runId}-t${i % tenants}`;
  const limit = 1_000_000;
  const windowSeconds = 60;
  const nDecisions = ctx.size(20_000, 500);
  const nLatency = ctx.size(3000, 100);
  const nCeiling = ctx.size(50_000, 2000);
  // redis-benchmark runs are steady (C client, no GC): three rounds are enough and keep the run short.
  const ceilingRounds = Math.min(ctx.rounds, 3);

  const subjects: Subject[] = [];
  const platformIds: { id: string; algorithm: LimiterAlgorithm; limiter: LimiterLike; provider: string }[] = [];
  {
    for (const { algorithm, short } of ALGORITHMS) {
      const provider = `${runId}-${short}`;
      const limiter = createRateLimiter({ redis: client, provider, limit, windowSeconds, algorithm });
      subjects.push({
        id: short,
        subject: `@platform/ratelimit ${algorithm}`,
        // Every call must be a full, allowed decision (a refusal could be answered without Redis).
        consume: (t) => limiter.consume(t).then((r) => {
          if (!r.allowed) throw new Error(`${algorithm} refused a call: the benchmark limit is too low`);
        }),
        keyPrefix: `ratelimit:${runId}-`,
      });
      platformIds.push({ id: short, algorithm, limiter, provider });
    }
  }
  const rlf = new RateLimiterRedis({ storeClient: client, useRedisPackage: false, keyPrefix: `${runId}-rlf`, points: limit, duration: windowSeconds });
  subjects.push({ id: 'rlf', subject: 'rate-limiter-flexible RateLimiterRedis', consume: (t) => rlf.consume(t), keyPrefix: `${runId}-rlf:` });
  subjects.push({
    id: 'naive',
    subject: 'naive INCR then EXPIRE (2 commands)',
    consume: async (t) => {
      const key = `${runId}-naive:${t}`;
      const n = await client.incr(key);
      await client.expire(key, windowSeconds);
      return n;
    },
    keyPrefix: `${runId}-naive:`,
  });

  const allIds = [...ALGORITHMS.map((a) => a.short), 'rlf', 'naive'];
  const subjectName = (id: string) =>
    subjects.find((s) => s.id === id)?.subject ?? `@platform/ratelimit ${ALGORITHMS.find((a) => a.short === id)?.algorithm ?? id}`;
  for (const id of allIds) {
    results.figure({ id: `rl.tput.${id}`, section, benchmark: `consume, 50 in flight over ${tenants} tenants`, subject: subjectName(id), unit: 'decisions/s', better: 'higher' });
  }
  for (const id of allIds) {
    results.figure({ id: `rl.p50.${id}`, section, benchmark: 'consume latency p50, one call at a time', subject: subjectName(id), unit: 'ms', better: 'lower' });
    results.figure({ id: `rl.p99.${id}`, section, benchmark: 'consume latency p99, one call at a time', subject: subjectName(id), unit: 'ms', better: 'lower' });
  }
  // Targets: fixed window >= 1.3x, the sliding-window counter and the token bucket >= 1.0x; the exact log has none.
  const targets: Record<string, number> = { fixed: 1.3, sliding: 1.0, token: 1.0 };
  for (const { short, algorithm } of ALGORITHMS) {
    const target = targets[short];
    results.compare({ label: `limiter ${algorithm} / rate-limiter-flexible`, platform: `rl.tput.${short}`, anchor: 'rl.tput.rlf', ...(target === undefined ? {} : { op: '>=', target }) });
  }
  for (const { short, algorithm } of ALGORITHMS) {
    results.compare({ label: `limiter ${algorithm} / naive INCR+EXPIRE`, platform: `rl.tput.${short}`, anchor: 'rl.tput.naive' });
  }

  const cleanup = async () => {
    for (const prefix of new Set(subjects.map((s) => s.keyPrefix))) await ctx.deleteKeys(prefix);
  };
  // Warm-up: load every script, open the connection, warm the JIT.
  for (const s of subjects) await throughput(Math.min(500, nDecisions), 50, (i) => s.consume(tenant(i)));
  await cleanup();

  log('  consume, 50 in flight');
  const tputContenders: Contender[] = subjects.map((s) => ({
    name: s.id,
    run: async () => {
      results.add(`rl.tput.${s.id}`, await throughput(nDecisions, 50, (i) => s.consume(tenant(i))));
      await cleanup();
    },
  }));
  await alternate(ctx.rounds, tputContenders, log);

  log('  consume latency, one at a time');
  const latencyContenders: Contender[] = subjects.map((s) => ({
    name: s.id,
    run: async () => {
      const latencies = await sequentialLatencies(nLatency, (i) => s.consume(tenant(i)));
      results.add(`rl.p50.${s.id}`, percentile(latencies, 50));
      results.add(`rl.p99.${s.id}`, percentile(latencies, 99));
      await cleanup();
    },
  }));
  await alternate(ctx.rounds, latencyContenders, log);

  // The ceiling: redis-benchmark (C, 50 connections) running one script per request on the same server.
  const binary = findRedisBenchmark();
  if (!binary) {
    results.markUnavailable(`${section} (ceiling)`, 'redis-benchmark is not installed (apt-get install redis-tools)');
  } else {
    log('  ceiling: redis-benchmark');
    const sha = String(await client.script('LOAD', BARE_INCR_EXPIRE_LUA));
    const ceilings: { id: string; subject: string; command: string[] }[] = [
      { id: 'bare', subject: 'redis-benchmark EVALSHA bare INCR+PEXPIRE', command: ['EVALSHA', sha, '1', `${runId}-ceil:__rand_int__`, String(windowSeconds * 1000)] },
    ];
    // Replay each platform script exactly as the limiter sends it, with the tenant randomised.
    for (const p of platformIds) {
      const calls: unknown[][] = [];
      const spy = createRateLimiter({ redis: recordingClient(client, calls), provider: p.provider, limit, windowSeconds, algorithm: p.algorithm });
      const probeTenant = `${runId}-t7`;
      await spy.consume(probeTenant);
      const call = calls[0];
      if (!call) {
        results.markUnavailable(`${section} (ceiling of ${p.algorithm})`, 'the limiter sent no EVALSHA that could be replayed');
        continue;
      }
      const command = ['EVALSHA', ...call.map((a) => String(a).split(probeTenant).join(`${runId}-t__rand_int__`))];
      ceilings.push({ id: p.id, subject: `redis-benchmark EVALSHA of the ${p.algorithm} script`, command });
    }
    for (const c of ceilings) {
      results.figure({ id: `rl.ceiling.${c.id}`, section, benchmark: 'ceiling: the same Redis driven by redis-benchmark, 50 clients', subject: c.subject, unit: 'decisions/s', better: 'higher' });
    }
    for (const c of ceilings) {
      if (c.id === 'bare') continue;
      const algorithm = ALGORITHMS.find((a) => a.short === c.id)!.algorithm;
      results.compare({ label: `limiter ${algorithm} (decisions of a turn batched) / redis-benchmark of its single-call script, one decision per request`, platform: `rl.tput.${c.id}`, anchor: `rl.ceiling.${c.id}` });
    }
    for (const { short, algorithm } of ALGORITHMS) {
      results.compare({ label: `limiter ${algorithm} / bare INCR+PEXPIRE ceiling`, platform: `rl.tput.${short}`, anchor: 'rl.ceiling.bare' });
    }
    results.compare({ label: 'rate-limiter-flexible / bare INCR+PEXPIRE ceiling', platform: 'rl.tput.rlf', anchor: 'rl.ceiling.bare' });
    for (let round = 0; round < ceilingRounds; round++) {
      for (const c of ceilings) {
        results.add(`rl.ceiling.${c.id}`, await redisBenchmark(ctx.redisUrl, c.command, { requests: nCeiling, clients: 50, randomKeys: tenants }));
      }
      await ctx.deleteKeys(`${runId}-ceil:`);
      await cleanup();
    }
  }
  await cleanup();
  await runRatelimitAbuseBenchmarks(ctx);
  results.notes.push(
    `Rate limiter: limit ${limit} per ${windowSeconds} s (every call allowed, so every call is a full decision), tenants t0..t${tenants - 1} in turn; ` +
      `all subjects share one plain ioredis client. ${nDecisions} decisions per round at 50 in flight; latency over ${nLatency} sequential calls; ` +
      `ceiling: redis-benchmark -c 50 -P 1 -r ${tenants} -n ${nCeiling}, replaying the single-call EVALSHA of each limiter (tenant randomised); the limiters batch the decisions of one event-loop turn into one script call, so they can pass this "ceiling": it bounds one decision per request, not the limiter.`,
  );
}
