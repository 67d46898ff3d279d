// Where a traced job's CPU goes, end to end (bench/README.md, "Tracing, round 6"): build first, then
//   node --expose-gc bench/pairwise/trace-profile.js          (env: MODES, N, ROUNDS, PROFILE, INTERVAL)
// Modes (MODES, comma-separated, default on,on-noals,disabled) are the bench's own (tracingModes in
// bench/src/tracing-bench.ts: on, on-keep, on-noals, off, disabled), plus meta (jobs enqueued traced,
// worker untraced: what the W3C context in the job costs) and workonly (the reverse).
// Per round and mode: N jobs enqueued in bulks of 1,000 (not timed), then one worker (concurrency 50,
// no-op handler) runs them; prints the median jobs/s and CPU µs per job of this process per mode,
// and checks that a traced run exported a span per job.
// PROFILE=on-noals+disabled writes a V8 CPU profile of those modes' timed runs (rounds after the
// first) to /tmp/trace-profile-<mode>-<round>.cpuprofile; compare two sets with
// bench/pairwise/profile-diff.js.
'use strict';
const { writeFileSync } = require('node:fs');
const inspector = require('node:inspector');
const { agentQueue, createWorker } = require('@platform/queue');
const { closeConnection, createRedisConnection, loadRedisConfig } = require('@platform/redis');
const { startRedisServer } = require('@platform/testing');
const { completions } = require('../dist/measure');
const { checkSpans, tracingModes } = require('../dist/tracing-bench');

const N = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const MODES = (process.env.MODES ?? 'on,on-noals,disabled').split(',');
const PROFILED = (process.env.PROFILE ?? '').split('+').filter(Boolean);
const INTERVAL_US = Number(process.env.INTERVAL ?? 500);

const post = (session, method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const server = await startRedisServer();
  const config = loadRedisConfig({ REDIS_URL: server.url });
  const admin = createRedisConnection(config, { role: 'producer' });
  const producer = createRedisConnection(config, { role: 'producer' });
  const queue = agentQueue('trace-profile', { connection: producer, prefix: 'tp', fairness: 'none', onError: () => undefined });
  const { use, exported, shutdown } = tracingModes();
  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: INTERVAL_US });
  const figures = Object.fromEntries(MODES.map((mode) => [mode, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        const [enqueueMode, runMode] = mode === 'meta' ? ['on-noals', 'disabled'] : mode === 'workonly' ? ['disabled', 'on-noals'] : [mode, mode];
        await use(enqueueMode);
        for (let s = 0; s < N; s += 1000) {
          await queue.enqueueBulk(Array.from({ length: Math.min(1000, N - s) }, (_, k) => ({ tenantId: `tenant-${(s + k) % 100}`, activityId: `a-${s + k}`, input: {} })));
        }
        await use(runMode);
        const connection = createRedisConnection(config, { role: 'worker' });
        const worker = createWorker(queue, async () => undefined, { connection, concurrency: 50, autorun: false, handleSignals: false, onError: () => undefined });
        const finished = completions(worker, N, 120_000);
        global.gc?.();
        const profiling = PROFILED.includes(mode) && round > 0;
        if (profiling) await post(session, 'Profiler.start');
        const cpu = process.cpuUsage();
        const started = performance.now();
        void worker.run().catch(() => undefined);
        await finished;
        const used = process.cpuUsage(cpu);
        const seconds = (performance.now() - started) / 1000;
        if (profiling) writeFileSync(`/tmp/trace-profile-${mode}-${round}.cpuprofile`, JSON.stringify((await post(session, 'Profiler.stop')).profile));
        figures[mode].push({ rate: N / seconds, cpu: (used.user + used.system) / N });
        await worker.close();
        await closeConnection(connection);
        await checkSpans(runMode, exported, N);
        await admin.flushdb(); // the private server's only database
      }
    }
    for (const mode of MODES) {
      const rows = figures[mode];
      console.log(`${mode.padEnd(9)} jobs/s ${median(rows.map((row) => row.rate)).toFixed(0).padStart(6)}  CPU µs/job ${median(rows.map((row) => row.cpu)).toFixed(1).padStart(6)}  (per round: ${rows.map((row) => row.cpu.toFixed(0)).join(' ')})`);
    }
  } finally {
    await use('off');
    await queue.close();
    await closeConnection(producer);
    await closeConnection(admin);
    await shutdown();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
