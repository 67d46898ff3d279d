/**
 * Pairwise A/B on a noisy machine: short batches of two contenders back to back, the order swapped
 * every round, on a private redis-server. Prints the median of the per-round throughput ratios
 * (A / B, interquartile range in brackets) and the median CPU per operation of this process
 * (`process.cpuUsage`, user + system), which a loaded machine moves far less than throughput.
 *
 *   node bench/dist/pairwise.js <scenario> [--rounds N]
 *
 * Scenarios: enqueue1, enqueue50, bulk, e2e (platform / raw BullMQ; suffix -prod: raw on a platform
 * producer connection too; -nolimits: the platform queue without time limits); fair10, fair1000, fair10000
 * (fair / plain, no-op jobs); held10, held1000 (the "no second add" ceiling: jobs held in BullMQ and
 * released by one Lua call per step, window = concurrency; suffix -w2: twice the concurrency) / plain; controls (fair with controls / fair without); trace-enqueue1,
 * trace-e2e (tracing on / off), trace-keep-enqueue1, trace-keep-e2e (the exporter keeping every span / reading them), trace-off-enqueue1, trace-off-e2e (off / tracerProvider false),
 * trace-als-enqueue1, trace-als-e2e (on / on without a context manager: the AsyncLocalStorage share)
 * and trace-noals-enqueue1, trace-noals-e2e (on without a context manager / off: the spans' share);
 * trace-bullmq-enqueue1, trace-bullmq-e2e (plain BullMQ with `bullmq-otel`, the SDK registered
 * globally / plain BullMQ untraced: what tracing costs a BullMQ user today) and trace-vsraw-enqueue1,
 * trace-vsraw-e2e (the platform traced / plain BullMQ with `bullmq-otel`, both on the same SDK set-up).
 */
import { agentQueue, createWorker } from '@platform/queue';
import { startRedisServer } from '@platform/testing';
import { Worker } from 'bullmq';
import { createContext, type BenchContext } from './context';
import { runFairOverheadOnce, runFairScaleOnce, runHeldReleaseOnce, type RunFigures } from './fair-overhead';
import { runToCompletion, summarize, timed } from './measure';
import { queueSides } from './queue-bench';
import { Results } from './results';
import { measureTraced, plainBullmq, platformSide, tracingModes, type TracedSide, type TracingMode } from './tracing-bench';

type Batch = () => Promise<RunFigures>;

function payload(i: number) {
  return { tenantId: `tenant-${i % 100}`, activityId: `activity-${i}`, input: {} as Record<string, unknown> };
}

async function inFlight(total: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

async function queuePair(ctx: BenchContext, name: string): Promise<[Batch, Batch, () => Promise<void>]> {
  // `<scenario>-prod`: raw BullMQ on a platform producer connection too (commandTimeout: a timer per
  // command), to tell the queue layer's cost from the connection's. `<scenario>-nolimits`: the
  // platform queue without the agent queues' default time limits.
  const [scenario = name, variant] = name.split('-') as [string, string | undefined];
  const sides = queueSides(ctx, 'ab', {
    rawConnection: variant === 'prod' ? ctx.platformClient('producer') : undefined,
    noTimeLimits: variant === 'nolimits',
  });
  const { platform, raw, role } = sides;
  const cleanup = async () => {
    await ctx.deleteKeys(`${sides.platformPrefix}:`);
    await ctx.deleteKeys(`${sides.rawPrefix}:`);
  };
  await inFlight(300, 20, (i) => platform.enqueue(payload(i)));
  await inFlight(300, 20, (i) => raw.add(role, payload(i)));
  await cleanup();
  const after = async <T>(figures: Promise<T>) => {
    const result = await figures;
    await cleanup();
    return result;
  };
  const close = async () => {
    await sides.close();
    await cleanup();
  };
  if (scenario === 'enqueue1' || scenario === 'enqueue50') {
    const [n, c] = scenario === 'enqueue1' ? [1000, 1] : [3000, 50];
    return [
      () => after(timed(n, () => inFlight(n, c, (i) => platform.enqueue(payload(i))))),
      () => after(timed(n, () => inFlight(n, c, (i) => raw.add(role, payload(i))))),
      close,
    ];
  }
  if (scenario === 'bulk') {
    const n = 3000;
    const chunks = (make: (i: number) => unknown) => Array.from({ length: n / 1000 }, (_, b) => Array.from({ length: 1000 }, (_, k) => make(b * 1000 + k)));
    return [
      () => {
        const input = chunks(payload) as ReturnType<typeof payload>[][];
        return after(timed(n, async () => { for (const batch of input) await platform.enqueueBulk(batch); }));
      },
      () => {
        const input = chunks((i) => ({ name: role, data: payload(i) })) as { name: string; data: ReturnType<typeof payload> }[][];
        return after(timed(n, async () => { for (const batch of input) await raw.addBulk(batch); }));
      },
      close,
    ];
  }
  if (scenario === 'e2e') {
    const n = 5000;
    return [
      async () => {
        for (let s = 0; s < n; s += 1000) await platform.enqueueBulk(Array.from({ length: 1000 }, (_, k) => payload(s + k)));
        const connection = ctx.platformClient('worker');
        const worker = createWorker(platform, async () => undefined, { connection, concurrency: 50, autorun: false, handleSignals: false, onError: () => undefined });
        return after(runToCompletion(worker, connection, n));
      },
      async () => {
        for (let s = 0; s < n; s += 1000) await raw.addBulk(Array.from({ length: 1000 }, (_, k) => ({ name: role, data: payload(s + k) })));
        const connection = ctx.plainClient({ maxRetriesPerRequest: null });
        const worker = new Worker(raw.name, async () => undefined, { connection, prefix: sides.rawPrefix, concurrency: 50, autorun: false });
        worker.on('error', () => undefined);
        return after(runToCompletion(worker, connection, n));
      },
      close,
    ];
  }
  throw new Error(`unknown scenario ${scenario}`);
}

type TraceMode = TracingMode;

async function tracePair(ctx: BenchContext, scenario: string): Promise<[Batch, Batch, () => Promise<void>]> {
  const { use, exported, shutdown } = tracingModes();
  const prefix = `${ctx.runId}-ab-trace`;
  // FIFO, as in the tracing section and its earlier rounds: the pair isolates tracing, not fair scheduling.
  const queue = agentQueue(`${ctx.runId}-abt`, { connection: ctx.platformClient('producer'), prefix, fairness: 'none', onError: () => undefined });
  const platform = platformSide(ctx, queue, prefix, use);
  const bullmq = plainBullmq(ctx, use);
  // trace-<pair>-<enqueue1|e2e>, or trace-<enqueue1|e2e> for on / off; each side opened per batch.
  const opens = (mode: TraceMode) => () => platform(mode);
  const pairs = new Map<string | undefined, [() => Promise<TracedSide>, () => Promise<TracedSide>]>([
    ['off', [opens('off'), opens('disabled')]],
    ['als', [opens('on'), opens('on-noals')]],
    ['keep', [opens('on-keep'), opens('on')]],
    ['noals', [opens('on-noals'), opens('off')]],
    ['bullmq', [() => bullmq.open(true), () => bullmq.open(false)]],
    ['vsraw', [opens('on'), () => bullmq.open(true)]],
  ]);
  const [a, b] = pairs.get(scenario.split('-')[1]) ?? [opens('on'), opens('off')];
  const kind = scenario.endsWith('e2e') ? 'e2e' : 'enqueue1';
  await use('off');
  await inFlight(300, 20, (i) => queue.enqueue(payload(i)));
  await ctx.deleteKeys(`${prefix}:`);
  const batch = (open: () => Promise<TracedSide>): Batch => async () => {
    const side = await open();
    const figures = await measureTraced(side, kind, kind === 'e2e' ? 5000 : 1000, exported);
    await side.close();
    return figures;
  };
  const close = async () => {
    await use('off');
    await queue.close();
    await bullmq.close();
    await ctx.deleteKeys(`${prefix}:`);
    await shutdown();
  };
  return [batch(a), batch(b), close];
}

function fairPair(ctx: BenchContext, scenario: string): [Batch, Batch, () => Promise<void>] {
  if (scenario === 'controls') {
    return [() => runFairOverheadOnce(ctx.redisUrl, 100, 'controls'), () => runFairOverheadOnce(ctx.redisUrl, 100, 'fair'), async () => undefined];
  }
  const jobs = 10_000;
  if (scenario.startsWith('held')) {
    const [count = '10', factor] = scenario.slice('held'.length).split('-w');
    const tenants = Number(count);
    const windowFactor = factor === undefined ? 1 : Number(factor);
    return [
      () => runHeldReleaseOnce({ redisUrl: ctx.redisUrl, tenants, jobs, windowFactor }),
      () => runFairScaleOnce({ redisUrl: ctx.redisUrl, tenants, jobs, fair: false }),
      async () => undefined,
    ];
  }
  const tenants = Number(scenario.slice('fair'.length));
  return [
    () => runFairScaleOnce({ redisUrl: ctx.redisUrl, tenants, jobs, fair: true }),
    () => runFairScaleOnce({ redisUrl: ctx.redisUrl, tenants, jobs, fair: false }),
    async () => undefined,
  ];
}

const quartile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const scenario = args[0] ?? 'enqueue1';
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 15;
  const server = await startRedisServer();
  const ctx = createContext({ quick: false, rounds, redisUrl: server.url, privateServer: true, results: new Results(), log: console.log });
  try {
    const [a, b, close] = scenario.startsWith('trace')
      ? await tracePair(ctx, scenario)
      : scenario.startsWith('fair') || scenario.startsWith('held') || scenario === 'controls'
        ? fairPair(ctx, scenario)
        : await queuePair(ctx, scenario);
    const ratios: number[] = [];
    const cpuA: number[] = [];
    const cpuB: number[] = [];
    const opsA: number[] = [];
    const opsB: number[] = [];
    await a();
    await b();
    for (let round = 0; round < rounds; round++) {
      const first = round % 2 === 0;
      const ra = first ? await a() : undefined;
      const rb = await b();
      const fa = ra ?? (await a());
      ratios.push(fa.jobsPerSecond / rb.jobsPerSecond);
      opsA.push(fa.jobsPerSecond);
      opsB.push(rb.jobsPerSecond);
      cpuA.push(fa.cpuUsPerJob);
      cpuB.push(rb.cpuUsPerJob);
    }
    await close();
    const sorted = [...ratios].sort((x, y) => x - y);
    const f = (x: number, d = 3) => x.toFixed(d);
    console.log(
      `${scenario}: A/B median ${f(summarize(ratios).median)} (IQR ${f(quartile(sorted, 0.25))}..${f(quartile(sorted, 0.75))}), ` +
        `ops/s median A ${f(summarize(opsA).median, 0)} B ${f(summarize(opsB).median, 0)}, ` +
        `CPU µs/op median A ${f(summarize(cpuA).median, 1)} B ${f(summarize(cpuB).median, 1)} (ratio B/A ${f(summarize(cpuB).median / summarize(cpuA).median)}), ${rounds} rounds`,
    );
  } finally {
    await ctx.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
