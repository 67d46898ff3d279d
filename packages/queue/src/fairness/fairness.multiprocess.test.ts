import { waitFor } from '@platform/testing';
import { fairKeys } from './keys';
import { useWorkerProcessFixture, type WorkerFixtureConfig } from './test-support';

const fixture = useWorkerProcessFixture('fairmp');
const { redis } = fixture;

/** One fair queue `agent__fair` and its worker processes. */
function setup(config: Omit<WorkerFixtureConfig, 'queues'>) {
  const t = fixture.setup({ ...config, queues: [{ name: 'fair', fair: true }] });
  return { ...t, definition: t.definitions.get('fair')!, enqueue: (tenantId: string, count: number) => t.enqueue('fair', tenantId, count) };
}

/** The jobs released into BullMQ's wait list, in order, from the queue's event stream (their `waiting` events). */
async function handOuts(prefix: string, idToTenant: Map<string, string>): Promise<string[]> {
  const events = await redis.xrange(`${prefix}:agent__fair:events`, '-', '+');
  return events
    .map(([, fields]) => fields)
    .filter((fields) => fields[1] === 'waiting')
    .map((fields) => idToTenant.get(fields[3] ?? '') ?? '?');
}

describe('fair scheduling with several worker processes', () => {
  it('interleaving: with three tenants backlogged, consecutive hand-outs rotate across tenants', async () => {
    // Window 1: each hand-out waits until the previous job has started, so the order in which jobs
    // reach BullMQ (its event stream) is exactly the scheduler's order, whichever process dispatched.
    const t = setup({ concurrency: 2, jobMs: 5, fairness: { window: 1 } });
    const idToTenant = new Map<string, string>();
    for (const tenant of ['alpha', 'beta', 'gamma']) {
      for (const job of await t.enqueue(tenant, 30)) idToTenant.set(job.id!, tenant);
    }
    await t.start(2);
    await waitFor(async () => (await t.definition.queue.getJobCounts('completed')).completed === 90, 30_000);
    const order = await handOuts(t.definition.settings.prefix, idToTenant);
    expect(order).toHaveLength(90);
    // Alpha's first job went out before the others had enqueued; from then on, strict rotation
    // while all three tenants still have jobs.
    for (let i = 3; i + 3 <= 3 + 3 * 28; i++) {
      expect(new Set(order.slice(i, i + 3)).size).toBe(3);
    }
    await t.stop();
  });

  it('weights: over 3,000 jobs a weight-2 tenant gets about twice the share while all are backlogged', async () => {
    const t = setup({ concurrency: 4, jobMs: 0, fairness: { window: 12, weights: { gold: 2 } } });
    for (const tenant of ['gold', 'silver', 'bronze']) await t.enqueue(tenant, 1000);
    await t.start(3);
    await waitFor(async () => (await t.definition.queue.getJobCounts('completed')).completed === 3000, 60_000, 200);
    const starts = (await t.readLog()).filter((e) => e.e === 's');
    expect(starts).toHaveLength(3000);
    // The first 1,200 starts: gold would have 600 of its 1,000, the others 300 of theirs; all backlogged.
    const share = (tenant: string) => starts.slice(0, 1200).filter((e) => e.t === tenant).length;
    for (const other of ['silver', 'bronze']) {
      const ratio = share('gold') / share(other);
      expect(ratio).toBeGreaterThanOrEqual(1.8);
      expect(ratio).toBeLessThanOrEqual(2.2);
    }
    await t.stop();
  });

  it('maxActivePerTenant is never exceeded across processes, even when a worker is SIGKILLed; its slot frees after the lease', async () => {
    const t = setup({
      concurrency: 3,
      jobMs: 250,
      fairness: { window: 4, maxActivePerTenant: 2, leaseMs: 1500 },
      lockDuration: 1500,
      stalledInterval: 1000,
    });
    for (const tenant of ['xray', 'yank']) await t.enqueue(tenant, 12);
    const workers = await t.start(3);
    // Kill a process while it runs a job.
    const victim = await waitFor(async () => {
      const log = await t.readLog();
      if (log.filter((e) => e.e === 's').length < 6) return undefined;
      const ended = new Set(log.filter((e) => e.e === 'e').map((e) => e.run));
      // A run that started less than 120 ms ago (of 250 ms) is surely still running when we kill.
      const now = Date.now();
      return log.find((e) => e.e === 's' && !ended.has(e.run) && now - e.at < 120 && workers.some((w) => w.pid === e.pid));
    }, 20_000, 20);
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => (await t.definition.queue.getJobCounts('completed')).completed === 24, 40_000, 100);
    const log = await t.readLog();
    const ends = new Map(log.filter((e) => e.e === 'e').map((e) => [e.run, e.at]));
    const runs = log
      .filter((e) => e.e === 's')
      .map((s) => ({ tenant: s.t, id: s.id, pid: s.pid, from: s.at, to: ends.get(s.run) ?? (s.pid === victim.pid ? killedAt : Infinity) }));
    expect(runs.every((r) => Number.isFinite(r.to))).toBe(true);
    for (const tenant of ['xray', 'yank']) {
      const points = runs
        .filter((r) => r.tenant === tenant)
        .flatMap((r) => [
          { at: r.from, d: 1 },
          { at: r.to, d: -1 },
        ])
        .sort((a, b) => a.at - b.at || a.d - b.d);
      let active = 0;
      let peak = 0;
      for (const p of points) peak = Math.max(peak, (active += p.d));
      expect(peak).toBe(2);
    }
    // The killed job ran again in another process once its lock and lease had expired.
    const rerun = runs.find((r) => r.id === victim.id && r.pid !== victim.pid);
    expect(rerun).toBeDefined();
    expect(rerun!.from).toBeGreaterThan(killedAt);
    await t.stop();
  });

  it('per-tenant rate: the limited tenant never exceeds its rate, the others are not slowed', async () => {
    const rate = { max: 3, durationMs: 1000 };
    const t = setup({ concurrency: 3, jobMs: 20, fairness: { window: 6 }, rateTenants: { slow: rate } });
    // The rate applies at hand-out, where the dispatch script records each job in the tenant's rate
    // log with the Redis clock. Each entry stays there for the rate's duration, so reading the log
    // every 25 ms sees every hand-out with its exact time (a start in a worker may lag its hand-out).
    const rateLog = fairKeys(t.definition.settings.prefix, 'agent__fair').rateLog('slow');
    const handedOut = new Map<string, number>();
    const watch = setInterval(() => {
      void redis.zrange(rateLog, '0', '-1', 'WITHSCORES').then((flat) => {
        for (let i = 0; i < flat.length; i += 2) handedOut.set(flat[i]!, Number(flat[i + 1]));
      });
    }, 25);
    try {
      await t.start(2);
      await t.enqueue('slow', 9);
      for (const tenant of ['fast1', 'fast2']) await t.enqueue(tenant, 40);
      await waitFor(async () => (await t.definition.queue.getJobCounts('completed')).completed === 89, 30_000, 100);
    } finally {
      clearInterval(watch);
    }
    const log = await t.readLog();
    expect(log.filter((e) => e.e === 's' && e.t === 'slow')).toHaveLength(9);
    const handOutTimes = [...handedOut.values()].sort((a, b) => a - b);
    expect(handOutTimes).toHaveLength(9);
    for (let i = 0; i + rate.max < handOutTimes.length; i++) {
      expect(handOutTimes[i + rate.max]! - handOutTimes[i]!).toBeGreaterThanOrEqual(rate.durationMs);
    }
    // The other tenants were not held back by the limited one: all 80 of their jobs were done
    // before the limited tenant's 7th hand-out (2 s into its rate), 80 jobs of 20 ms on 6 slots.
    const lastFastEnd = Math.max(...log.filter((e) => e.e === 'e' && e.t !== 'slow').map((e) => e.at));
    expect(lastFastEnd).toBeLessThan(handOutTimes[2 * rate.max]!);
    await t.stop();
  });
});
