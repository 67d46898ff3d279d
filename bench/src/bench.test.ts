import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresAvailable } from '@platform/testing';
import { Redis } from 'ioredis';
import { main, type BenchReport } from './run';

// The whole runner in quick mode against the test Redis: proves every benchmark still runs and
// produces numbers. No timing targets are asserted (speed is for the full run on a quiet machine).
const outputFile = join(tmpdir(), `platform-bench-test-${process.pid}.md`);
const redis = new Redis(process.env.REDIS_URL!);
let report: BenchReport;
const lines: string[] = [];

beforeAll(async () => {
  report = await main({ quick: true, redisUrl: process.env.REDIS_URL!, outputFile, print: false, log: (line) => lines.push(line) });
}, 180_000);

afterAll(async () => {
  rmSync(outputFile, { force: true });
  await redis.quit();
});

describe('bench --quick', () => {
  it('runs every section without an error', () => {
    expect(report.errors.map((e) => `${e.section}: ${e.error.message}`)).toEqual([]);
    for (const u of report.results.unavailable) expect(u.reason).not.toMatch(/^failed/);
  });

  it('gives every figure a positive number', () => {
    const empty: string[] = [];
    const notPositive: string[] = [];
    for (const figure of report.results.figures.values()) {
      if (figure.samples.length > 0) {
        // A fair scheduler may start the small tenants' jobs within the same millisecond.
        const floor = figure.id.startsWith('fair.p95.') ? -1 : 0;
        for (const sample of figure.samples) if (!(sample > floor)) notPositive.push(`${figure.id} = ${sample}`);
        continue;
      }
      empty.push(`${figure.section} / ${figure.benchmark} / ${figure.subject}`);
    }
    expect(empty).toEqual([]);
    expect(notPositive).toEqual([]);
  });

  it('measures both sides of every section', () => {
    const ids = [...report.results.figures.values()].filter((f) => f.samples.length > 0).map((f) => f.id);
    for (const id of [
      'queue.enqueue1.platform', 'queue.enqueue1.bullmq', 'queue.enqueue50.platform', 'queue.enqueue50.bullmq',
      'queue.bulk.platform', 'queue.bulk.bullmq', 'queue.e2e.platform', 'queue.e2e.bullmq',
      'rl.tput.rlf', 'rl.tput.naive', 'rl.p50.rlf', 'rl.p99.naive', 'rl.ceiling.bare',
      'lock.u.redlock', 'lock.u.semaphore', 'lock.c.redlock', 'lock.c.semaphore',
      'notify.platform', 'notify.raw',
      'mem.job.platform', 'mem.job.bullmq', 'mem.dedupe.platform', 'mem.dedupe.raw', 'mem.rl1.rlf',
      'trace.enqueue1.on', 'trace.enqueue1.off', 'trace.enqueue1.disabled', 'trace.e2e.on', 'trace.e2e.off', 'trace.e2e.disabled',
    ]) {
      expect(ids).toContain(id);
    }
    for (const a of ['fixed', 'sliding', 'token']) expect(ids).toEqual(expect.arrayContaining([`rl.tput.${a}`, `rl.ceiling.${a}`, `mem.rl1.${a}`]));
    expect(ids).toEqual(expect.arrayContaining(['lock.u.platform', 'lock.c.platform', 'fair.p95.fair', 'fair.p95.fifo']));
    if (postgresAvailable()) expect(ids).toEqual(expect.arrayContaining(['outbox.p50.outbox', 'outbox.p99.direct', 'outbox.tput.relay', 'outbox.tput.direct']));
  });

  it('computes a ratio for every target whose both sides ran, and writes the report where it was told', () => {
    for (const c of report.comparisons) {
      const both = report.results.summary(c.platform) && report.results.summary(c.anchor);
      if (both) expect(Number.isFinite(c.ratio) && c.ratio! >= 0).toBe(true);
      else expect(c.ratio).toBeUndefined();
    }
    expect(existsSync(outputFile)).toBe(true);
    const markdown = readFileSync(outputFile, 'utf8');
    expect(markdown).toContain('## Targets');
    expect(markdown).toContain('quick run');
  });

  it('leaves no key of the run behind', async () => {
    for (const pattern of [`${report.runId}*`, `ratelimit:${report.runId}*`, `notify:${report.runId}*`, `mutex:${report.runId}*`]) {
      const [, keys] = await redis.scan('0', 'MATCH', pattern, 'COUNT', 100_000);
      expect(keys).toEqual([]);
    }
  });
});
