import { uniquePrefix, waitFor } from '@platform/testing';
import { pauseTenant, resetTenantLimits, resumeTenant, setTenantLimits } from './controls';
import { useWorkerProcessFixture, type Run } from './worker-processes';

const { redis, setup, cleanUpAfter } = useWorkerProcessFixture('ctlmp');

/** Most runs active at once among `runs` within [from, to). */
function peakConcurrency(runs: readonly Run[], from = -Infinity, to = Infinity): number {
  const points = runs
    .filter((r) => r.to > from && r.from < to)
    .flatMap((r) => [
      { at: Math.max(r.from, from), d: 1 },
      { at: Math.min(r.to, to), d: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.d - b.d);
  let active = 0;
  let peak = 0;
  for (const p of points) peak = Math.max(peak, (active += p.d));
  return peak;
}

describe('tenant controls with several worker processes', () => {
  it("pauseTenant: A's jobs do not start while B's run (from 1 s after the call); resume runs them; forMs resumes by itself; nothing lost or duplicated", async () => {
    const t = setup({ queues: [{ name: 'shared', fair: true }], concurrency: 2, jobMs: 40, fairness: { pollMs: 100 } });
    const q = t.definitions.get('shared')!;
    await t.enqueue('shared', 'alpha', 40);
    await t.enqueue('shared', 'bravo', 150);
    await t.start(2);
    // Both run; then A is paused while both are backlogged.
    await waitFor(async () => (await t.readLog()).some((e) => e.t === 'alpha' && e.e === 'e'), 15_000);
    const [change] = await pauseTenant(q, 'alpha', { actor: 'test' });
    const pausedAt = change!.atMs;
    await waitFor(async () => (await t.readLog()).filter((e) => e.e === 'e' && e.t === 'bravo').length === 150, 30_000, 50);
    const resumedAt = Date.now();
    const duringPause = (await t.runs()).filter((r) => r.t === 'alpha' && r.from >= pausedAt + 1000 && r.from < resumedAt);
    expect(duringPause).toEqual([]);
    // B's jobs kept running while A was paused.
    expect((await t.runs()).filter((r) => r.t === 'bravo' && r.from >= pausedAt + 1000).length).toBeGreaterThan(0);
    const alphaBefore = (await t.runs()).filter((r) => r.t === 'alpha').length;
    expect(alphaBefore).toBeLessThan(40);

    await resumeTenant(q, 'alpha', { actor: 'test' });
    await waitFor(async () => (await t.completed('shared')) === 190, 30_000, 50);

    // forMs: paused for 1.5 s, then resumes by itself with no call.
    const [timed] = await pauseTenant(q, 'alpha', { forMs: 1500, actor: 'test' });
    await t.enqueue('shared', 'alpha', 10, 1000);
    await waitFor(async () => (await t.completed('shared')) === 200, 30_000, 50);
    const afterTimed = (await t.runs()).filter((r) => r.t === 'alpha' && r.from >= timed!.atMs);
    expect(afterTimed).toHaveLength(10);
    // None started in the first second of the pause (they stay in the backlog until it ends).
    expect(Math.min(...afterTimed.map((r) => r.from))).toBeGreaterThanOrEqual(timed!.atMs + 1000);

    // Nothing lost or duplicated: 200 distinct jobs, each run once.
    const all = await t.runs();
    expect(all).toHaveLength(200);
    expect(new Set(all.map((r) => r.id)).size).toBe(200);
    await t.stop();
  });

  it('setTenantLimits({ maxActive: 1 }) during a backlog on 3 worker processes: at most 1 active from 1 s after the call; resetTenantLimits restores', async () => {
    const t = setup({ queues: [{ name: 'busy', fair: true }], concurrency: 3, jobMs: 100, fairness: { pollMs: 100 } });
    const q = t.definitions.get('busy')!;
    await t.enqueue('busy', 'xray', 150);
    await t.enqueue('busy', 'yank', 60);
    await t.start(3);
    await waitFor(async () => (await t.readLog()).filter((e) => e.e === 'e' && e.t === 'xray').length >= 10, 20_000);
    const before = await t.runs();
    const [set] = await setTenantLimits(q, 'xray', { maxActive: 1 }, { actor: 'test' });
    const setAt = set!.atMs;
    // Long enough for many xray jobs to be due under the limit.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const [reset] = await resetTenantLimits(q, 'xray', { actor: 'test' });
    await waitFor(async () => (await t.completed('busy')) === 210, 60_000, 100);
    const runs = (await t.runs()).filter((r) => r.t === 'xray');
    // Before the limit, xray ran several at once.
    expect(peakConcurrency(before.filter((r) => r.t === 'xray'))).toBeGreaterThan(1);
    // Under the limit (from 1 s after the call to the reset): at most one at once, and it kept running.
    const limited = runs.filter((r) => r.from >= setAt + 1000 && r.from < reset!.atMs);
    expect(limited.length).toBeGreaterThan(3);
    expect(peakConcurrency(runs, setAt + 1000, reset!.atMs)).toBe(1);
    // After the reset, xray runs several at once again.
    expect(peakConcurrency(runs, reset!.atMs + 1000)).toBeGreaterThan(1);
    expect(new Set(runs.map((r) => r.id)).size).toBe(150);
    await t.stop();
  });

  it('a pool of 2 joined by two queues: never more than 2 of its jobs at once across both; a SIGKILLed worker frees its slot within the lease time', async () => {
    const leaseMs = 1500;
    const keyPrefix = uniquePrefix('pool');
    cleanUpAfter(keyPrefix);
    const t = setup({
      queues: [
        { name: 'writer', fair: true },
        { name: 'reader', fair: false },
      ],
      concurrency: 3,
      jobMs: 150,
      pool: { name: 'llm', max: 2, leaseMs, keyPrefix },
      lockDuration: 1500,
      stalledInterval: 1000,
    });
    await t.enqueue('writer', 'acme', 15);
    await t.enqueue('reader', 'beta', 15);
    const workers = await t.start(2);
    const victim = await waitFor(
      async () => {
        const log = await t.readLog();
        if (log.filter((e) => e.e === 'e').length < 4) return undefined;
        const ended = new Set(log.filter((e) => e.e === 'e').map((e) => e.run));
        const now = Date.now();
        // A run that started less than 60 ms ago (of 150 ms) is surely still running when we kill.
        return log.find((e) => e.e === 's' && !ended.has(e.run) && now - e.at < 60 && workers.some((w) => w.pid === e.pid));
      },
      20_000,
      10,
    );
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => (await t.completed('writer')) + (await t.completed('reader')) === 30, 60_000, 100);
    const runs = await t.runs((s) => (s.pid === victim.pid ? killedAt : Infinity));
    expect(runs.every((r) => Number.isFinite(r.to))).toBe(true);
    // Both queues ran jobs, and never more than 2 at once across both.
    expect(new Set(runs.map((r) => r.q))).toEqual(new Set(['writer', 'reader']));
    expect(peakConcurrency(runs)).toBe(2);
    // The dead worker's slot stayed taken until its lease expired (one slot left for the living)...
    const survivors = runs.filter((r) => r.pid !== victim.pid);
    expect(peakConcurrency(survivors, killedAt + 100, killedAt + leaseMs - 300)).toBeLessThanOrEqual(1);
    // ...and was free again after it: two at once again well before lease + 2 s.
    expect(peakConcurrency(survivors, killedAt, killedAt + leaseMs + 2000)).toBe(2);
    // The killed job ran again elsewhere; every job completed.
    expect(runs.some((r) => r.id === victim.id && r.q === victim.q && r.pid !== victim.pid)).toBe(true);
    expect((await t.pool!.usage(redis)).active).toBe(0);
    await t.stop();
  });
});
