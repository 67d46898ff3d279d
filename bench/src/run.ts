/**
 * `npm run bench`: the platform against raw BullMQ and the libraries users would pick instead, on
 * one Redis in one run, alternating platform and anchor within every round.
 *
 *   node bench/dist/run.js [--quick] [--rounds N] [--only queue,ratelimit,...] [--no-fail]
 *
 * Redis: BENCH_REDIS_URL when set, otherwise a private redis-server (no persistence) on a free port.
 * A full run writes bench/RESULTS.md; --quick writes to the OS temp directory and never fails on targets.
 */
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { closeSharedConnections } from '@platform/redis';
import { startRedisServer, type RedisServer } from '@platform/testing';
import { Redis } from 'ioredis';
import { createContext, type BenchContext } from './context';
import { runLockBenchmarks } from './locks-bench';
import { machineInfo } from './machine';
import { runMemoryBenchmarks } from './memory-bench';
import { runNotifyBenchmarks } from './notify-bench';
import { FAIR_SCALE_CONCURRENCY, FAIR_SCALE_TENANTS, runFairOverhead, runFairScaleOnce } from './fair-overhead';
import { runNoisyNeighbour } from './noisy-neighbour';
import { runOutboxBenchmarks } from './outbox-bench';
import { runQueueBenchmarks } from './queue-bench';
import { runRatelimitBenchmarks } from './ratelimit-bench';
import { runTracingBenchmarks } from './tracing-bench';
import { runClusterBenchmarks } from './cluster-bench';
import { renderReport } from './report';
import { Results, type EvaluatedComparison } from './results';

/** The sections, in the order they run. */
export const SECTIONS = ['queue', 'ratelimit', 'locks', 'notify', 'memory', 'fairness', 'outbox', 'tracing', 'cluster'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface BenchOptions {
  /** Every benchmark briefly (one round, tiny sizes); does not write bench/RESULTS.md. @defaultValue `false` */
  quick?: boolean;
  /** Redis to use. @defaultValue `BENCH_REDIS_URL`, else a private redis-server started for the run */
  redisUrl?: string;
  /** Rounds per figure. @defaultValue 5 (full), 1 (quick) */
  rounds?: number;
  /** Sections to run. @defaultValue all of {@link SECTIONS} */
  sections?: readonly SectionName[];
  /** Where to write the Markdown report. @defaultValue bench/RESULTS.md (full), `<tmpdir>/platform-bench-RESULTS.md` (quick) */
  outputFile?: string;
  /** Progress lines. @defaultValue console.log */
  log?: (line: string) => void;
  /** Print the report at the end. @defaultValue `true` */
  print?: boolean;
}

export interface BenchReport {
  results: Results;
  /** Every key and queue of the run started with this id (all deleted at the end). */
  runId: string;
  comparisons: EvaluatedComparison[];
  markdown: string;
  outputFile: string;
  /** Targets missed (only meaningful in a full run). */
  misses: string[];
  /** Sections that threw. */
  errors: { section: SectionName; error: Error }[];
}

async function runFairness(ctx: BenchContext): Promise<void> {
  const section = '6. Fairness (noisy neighbour)';
  const fig = (id: string, benchmark: string, subject: string, unit: string, better: 'higher' | 'lower') =>
    ctx.results.figure({ id, section, benchmark, subject, unit, better });
  const wait = 'p95 wait (enqueue to start) of 10 small tenants behind a noisy one';
  fig('fair.p95.fair', wait, "fairness: 'per-tenant'", 'ms', 'lower');
  fig('fair.p95.fifo', wait, 'FIFO (BullMQ order)', 'ms', 'lower');
  fig('fair.tput.fair', 'throughput, all tenants', "fairness: 'per-tenant'", 'jobs/s', 'higher');
  fig('fair.tput.fifo', 'throughput, all tenants', 'FIFO (BullMQ order)', 'jobs/s', 'higher');
  // Targets: small tenants wait at most 5 % of their FIFO wait; throughput stays within 90 % of FIFO.
  ctx.results.compare({ label: 'small tenants p95 wait: fair / FIFO', platform: 'fair.p95.fair', anchor: 'fair.p95.fifo', op: '<=', target: 0.05 });
  ctx.results.compare({ label: 'throughput with a noisy tenant: fair / FIFO', platform: 'fair.tput.fair', anchor: 'fair.tput.fifo', op: '>=', target: 0.9 });
  // Each run already alternates FIFO and fair; three rounds keep the full run short.
  for (let round = 0; round < Math.min(ctx.rounds, 3); round++) {
    const r = await runNoisyNeighbour({ redisUrl: ctx.redisUrl, quick: ctx.quick });
    ctx.results.add('fair.p95.fair', r.fairP95WaitMs);
    ctx.results.add('fair.p95.fifo', r.fifoP95WaitMs);
    ctx.results.add('fair.tput.fair', r.fairThroughput);
    ctx.results.add('fair.tput.fifo', r.fifoThroughput);
    ctx.log(`    round ${round + 1} done`);
  }
  // The scheduler's own cost with nothing to correct, and the cost of runtime controls.
  const uniform = 'end-to-end throughput, 20 uniform tenants (one worker, concurrency 16, 2 ms jobs)';
  fig('fair.uniform.fair', uniform, "fairness: 'per-tenant'", 'jobs/s', 'higher');
  fig('fair.uniform.plain', uniform, 'plain queue (BullMQ FIFO)', 'jobs/s', 'higher');
  fig('fair.uniform.controls', uniform, "'per-tenant' + 1 paused tenant, 10 overrides, one pool", 'jobs/s', 'higher');
  ctx.results.compare({ label: 'uniform tenants: fair / plain', platform: 'fair.uniform.fair', anchor: 'fair.uniform.plain', op: '>=', target: 0.9 });
  ctx.results.compare({
    label: 'uniform tenants: with controls / without',
    platform: 'fair.uniform.controls',
    anchor: 'fair.uniform.fair',
    op: '>=',
    target: 0.95,
  });
  for (let round = 0; round < Math.min(ctx.rounds, 3); round++) {
    const r = await runFairOverhead({ redisUrl: ctx.redisUrl, quick: ctx.quick });
    ctx.results.add('fair.uniform.fair', r.fair);
    ctx.results.add('fair.uniform.plain', r.plain);
    ctx.results.add('fair.uniform.controls', r.controls);
    ctx.log(`    uniform round ${round + 1}: plain ${r.plain.toFixed(0)}, fair ${r.fair.toFixed(0)}, controls ${r.controls.toFixed(0)} jobs/s`);
  }
  // The same at scale, as the queue section's end-to-end figure (no-op jobs, concurrency 50).
  const scaleJobs = ctx.size(20_000, 500);
  for (const tenants of FAIR_SCALE_TENANTS) {
    const benchmark = `end-to-end ${scaleJobs} no-op jobs, ${tenants} uniform tenants, 1 worker x concurrency ${FAIR_SCALE_CONCURRENCY}`;
    fig(`fair.scale${tenants}.fair`, benchmark, "fairness: 'per-tenant'", 'jobs/s', 'higher');
    fig(`fair.scale${tenants}.plain`, benchmark, 'plain queue (BullMQ FIFO)', 'jobs/s', 'higher');
    ctx.results.compare({ label: `${tenants} uniform tenants: fair / plain`, platform: `fair.scale${tenants}.fair`, anchor: `fair.scale${tenants}.plain`, op: '>=', target: 0.9 });
  }
  for (let round = 0; round < ctx.rounds; round++) {
    for (const tenants of FAIR_SCALE_TENANTS) {
      // Alternate which side goes first, so machine noise hits both alike.
      for (const fair of round % 2 === 0 ? [false, true] : [true, false]) {
        const { jobsPerSecond } = await runFairScaleOnce({ redisUrl: ctx.redisUrl, tenants, jobs: scaleJobs, fair });
        ctx.results.add(`fair.scale${tenants}.${fair ? 'fair' : 'plain'}`, jobsPerSecond);
      }
    }
    ctx.log(`    scale round ${round + 1}/${ctx.rounds} done`);
  }
}

const RUNNERS: Record<SectionName, (ctx: BenchContext) => Promise<void>> = {
  queue: runQueueBenchmarks,
  ratelimit: runRatelimitBenchmarks,
  locks: runLockBenchmarks,
  notify: runNotifyBenchmarks,
  memory: runMemoryBenchmarks,
  fairness: runFairness,
  outbox: runOutboxBenchmarks,
  tracing: runTracingBenchmarks,
  cluster: runClusterBenchmarks,
};

/** Runs the benchmarks and writes the report. Never throws for a section that fails: see `errors`. */
export async function main(options: BenchOptions = {}): Promise<BenchReport> {
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 1 : 5);
  const log = options.log ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const t0 = performance.now();
  let server: RedisServer | undefined;
  let redisUrl = options.redisUrl ?? process.env.BENCH_REDIS_URL;
  let redisSource = redisUrl ? `the Redis at ${redisUrl.replace(/\/\/[^@/]*@/, '//***@')}` : '';
  if (!redisUrl) {
    server = await startRedisServer();
    redisUrl = server.url;
    redisSource = `a private redis-server (no persistence) on port ${server.port}`;
  }
  log(`[bench] ${quick ? 'quick' : 'full'} run, ${rounds} round(s), Redis: ${redisSource}`);

  const results = new Results();
  const ctx = createContext({ quick, rounds, redisUrl, privateServer: server !== undefined, results, log });
  const errors: BenchReport['errors'] = [];
  const admin = new Redis(redisUrl);
  admin.on('error', () => undefined);
  try {
    for (const section of options.sections ?? SECTIONS) {
      log(`[bench] ${section}`);
      const start = performance.now();
      try {
        await RUNNERS[section](ctx);
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        errors.push({ section, error: err });
        results.markUnavailable(section, `failed: ${err.message}`);
        log(`[bench] ${section} failed: ${err.stack ?? err.message}`);
      }
      log(`[bench] ${section} took ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
    const machine = await machineInfo(admin);
    const { markdown, comparisons } = renderReport({
      results,
      machine,
      quick,
      rounds,
      startedAt,
      elapsedSeconds: (performance.now() - t0) / 1000,
      redisSource,
      loadAtStart,
    });
    const outputFile = options.outputFile ?? (quick ? join(tmpdir(), 'platform-bench-RESULTS.md') : join(__dirname, '..', 'RESULTS.md'));
    writeFileSync(outputFile, markdown);
    if (options.print ?? true) console.log(`\n${markdown}`);
    log(`[bench] report written to ${outputFile}`);
    const misses = comparisons.filter((c) => c.verdict === 'MISS').map((c) => c.label);
    return { results, runId: ctx.runId, comparisons, markdown, outputFile, misses, errors };
  } finally {
    // Delete whatever a failed section left behind (everything of the run starts with its id).
    await ctx.deleteKeys(ctx.runId).catch(() => undefined);
    for (const p of [`ratelimit:${ctx.runId}`, `notify:${ctx.runId}`, `mutex:${ctx.runId}`]) await ctx.deleteKeys(p).catch(() => undefined);
    await ctx.close();
    await closeSharedConnections();
    admin.disconnect();
    if (server) await server.stop();
  }
}

function parseArgs(argv: readonly string[]): BenchOptions & { noFail: boolean } {
  const options: BenchOptions & { noFail: boolean } = { noFail: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-fail') options.noFail = true;
    else if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else if (arg === '--only') {
      const names = String(argv[++i]).split(',');
      for (const name of names) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`--only: unknown section ${name} (${SECTIONS.join(', ')})`);
      options.sections = names as SectionName[];
    } else if (arg === '--out') options.outputFile = argv[++i];
    else throw new Error(`unknown argument ${arg}; usage: run.js [--quick] [--rounds N] [--only ${SECTIONS.join(',')}] [--out FILE] [--no-fail]`);
  }
  if (options.rounds !== undefined && (!Number.isInteger(options.rounds) || options.rounds < 1)) throw new Error('--rounds must be a positive integer');
  return options;
}

if (require.main === module) {
  const options = parseArgs(process.argv.slice(2));
  main(options).then(
    (report) => {
      let code = 0;
      if (report.errors.length > 0) {
        console.error(`[bench] ${report.errors.length} section(s) failed: ${report.errors.map((e) => e.section).join(', ')}`);
        code = 1;
      }
      if (!options.quick && report.misses.length > 0) {
        console.error(`[bench] targets missed: ${report.misses.join('; ')}`);
        if (!options.noFail) code = 1;
      }
      process.exit(code);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
