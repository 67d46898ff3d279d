import { jobStats, type TenantJobStats } from '@platform/queue';
import type { Registry } from 'prom-client';
import { addStats, emptyStats, sumSlots } from './job-stats-sum';
import { backlogOf, type QueueTenantData } from './tenants';

/** The label of the tenants outside the top N. */
export const OTHER_TENANT = 'other';

/** Names of the per-tenant series. */
export const TENANT_SERIES_NAMES = Object.freeze({
  enqueued: 'platform_jobs_enqueued_total',
  completed: 'platform_jobs_completed_total',
  failed: 'platform_jobs_failed_total',
  failedAttempts: 'platform_job_failed_attempts_total',
  deferred: 'platform_jobs_deferred_total',
  wait: 'platform_job_wait_seconds',
  run: 'platform_job_run_seconds',
  backlog: 'platform_tenant_backlog_jobs',
  active: 'platform_tenant_active_jobs',
});

export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * The top `n` tenants of a queue: most backlog first, then most traffic (enqueued, completed and
 * failed within the retained slots), then by id.
 */
export function topTenantsOf(data: QueueTenantData, n: number, recent: ReadonlyMap<string, TenantJobStats>): Set<string> {
  const ids = new Set([...data.waiting.keys(), ...data.pending.keys(), ...data.active.keys(), ...recent.keys()]);
  ids.delete(OTHER_TENANT);
  const traffic = (id: string) => {
    const s = recent.get(id);
    return s ? s.enqueued + s.completed + s.failed : 0;
  };
  const ranked = [...ids].map((id) => ({ id, backlog: backlogOf(data, id), traffic: traffic(id) }));
  ranked.sort((a, b) => b.backlog - a.backlog || b.traffic - a.traffic || (a.id < b.id ? -1 : 1));
  return new Set(ranked.slice(0, n).map((r) => r.id));
}

/**
 * Per-tenant series with bounded cardinality, fed by what the producers and workers record in
 * Redis. On each read, every slot's growth since the previous read is added to the tenant's own
 * series when the tenant is in the queue's top N, else to `tenant="other"`. So every counter only
 * grows (within this process), the sum over a queue's tenants is the queue's total, and a queue
 * never has more than N + 1 tenant label values, whatever the number of tenants. A tenant that
 * leaves the top N loses its series (its later jobs count under `other`).
 */
export function createTenantSeries(registry: Registry, topTenants: number, refresh: () => Promise<readonly QueueTenantData[] | null>) {
  const seen = new Map<string, Map<number, Map<string, TenantJobStats>>>();
  const totals = new Map<string, Map<string, TenantJobStats>>();
  let gauges: Array<{ queue: string; tenant: string; backlog: number; active: number }> = [];

  const apply = (data: readonly QueueTenantData[]): void => {
    const nextGauges: typeof gauges = [];
    const live = new Set<string>();
    for (const q of data) {
      live.add(q.queue);
      const top = topTenantsOf(q, topTenants, sumSlots(q.slots));
      const acc = totals.get(q.queue) ?? new Map<string, TenantJobStats>();
      totals.set(q.queue, acc);
      for (const label of acc.keys()) if (label !== OTHER_TENANT && !top.has(label)) acc.delete(label);
      const before = seen.get(q.queue) ?? new Map<number, Map<string, TenantJobStats>>();
      const after = new Map<number, Map<string, TenantJobStats>>();
      for (const slot of q.slots) {
        const previous = before.get(slot.slot);
        for (const [tenantId, stats] of slot.tenants) {
          const label = top.has(tenantId) ? tenantId : OTHER_TENANT;
          let into = acc.get(label);
          if (!into) acc.set(label, (into = emptyStats()));
          addStats(into, stats, previous?.get(tenantId));
        }
        after.set(slot.slot, slot.tenants);
      }
      seen.set(q.queue, after);

      let otherBacklog = 0;
      let otherActive = 0;
      const ids = new Set([...q.waiting.keys(), ...q.pending.keys(), ...q.active.keys()]);
      for (const id of ids) {
        if (top.has(id)) continue;
        otherBacklog += backlogOf(q, id);
        otherActive += q.active.get(id) ?? 0;
      }
      for (const id of top) nextGauges.push({ queue: q.queue, tenant: id, backlog: backlogOf(q, id), active: q.active.get(id) ?? 0 });
      // Waiting jobs beyond the sample belong to tenants unknown here: they count as other.
      const sampledWaiting = [...q.waiting.values()].reduce((a, b) => a + b, 0);
      otherBacklog += Math.max(0, q.waitingTotal - sampledWaiting);
      nextGauges.push({ queue: q.queue, tenant: OTHER_TENANT, backlog: otherBacklog, active: otherActive });
    }
    // A queue that is gone (obliterated, or no longer listed) takes its series with it.
    for (const queue of [...totals.keys()]) {
      if (live.has(queue)) continue;
      totals.delete(queue);
      seen.delete(queue);
    }
    gauges = nextGauges;
  };

  // Reads are applied one at a time, in order, each adding only the growth since the one before;
  // the series of one scrape (called together) share one queued read.
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const update = (): Promise<void> => {
    if (queued) return queued;
    const next = chain.then(async () => {
      queued = undefined;
      const data = await refresh();
      if (data) apply(data);
    });
    queued = next;
    chain = next.catch(() => undefined);
    return next;
  };

  const each = (fn: (queue: string, tenant: string, stats: TenantJobStats) => void) => {
    for (const [queue, byLabel] of totals) for (const [tenant, stats] of byLabel) fn(queue, tenant, stats);
  };

  const define = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Sample[]) =>
    registerComputedMetric(registry, { name, help, type }, async () => {
      await update();
      return values();
    }, () => {
      totals.clear();
      seen.clear();
    });

  const counter = (name: string, help: string, pick: (s: TenantJobStats) => number) =>
    define(name, help, 'counter', () => {
      const out: Sample[] = [];
      each((queue, tenant, s) => out.push({ labels: { queue, tenant }, value: pick(s) }));
      return out;
    });

  const n = TENANT_SERIES_NAMES;
  counter(n.enqueued, 'Jobs enqueued, per queue and tenant (top N tenants, the rest as "other")', (s) => s.enqueued);
  counter(n.completed, 'Jobs completed, per queue and tenant (top N tenants, the rest as "other")', (s) => s.completed);
  counter(n.failed, 'Jobs failed for good (no attempt left, or unrecoverable), per queue and tenant', (s) => s.failed);
  counter(n.failedAttempts, 'Failed attempts (each retry, and the last), per queue and tenant', (s) => s.failedAttempts);
  define(n.deferred, 'Jobs deferred without spending an attempt, per queue, tenant and reason', 'counter', () => {
    const out: Sample[] = [];
    each((queue, tenant, s) => {
      for (const [reason, value] of Object.entries(s.deferred)) out.push({ labels: { queue, tenant, reason }, value });
    });
    return out;
  });
  const histogram = (name: string, help: string, pick: (s: TenantJobStats) => { buckets: number[]; sumMs: number }) =>
    define(name, help, 'histogram', () => {
      const out: Sample[] = [];
      each((queue, tenant, s) => {
        const h = pick(s);
        let cumulative = 0;
        jobStats.buckets.forEach((le, i) => {
          cumulative += h.buckets[i] ?? 0;
          out.push({ metricName: `${name}_bucket`, labels: { queue, tenant, le }, value: cumulative });
        });
        const count = h.buckets.reduce((a, b) => a + b, 0);
        out.push({ metricName: `${name}_bucket`, labels: { queue, tenant, le: '+Inf' }, value: count });
        out.push({ metricName: `${name}_sum`, labels: { queue, tenant }, value: h.sumMs / 1000 });
        out.push({ metricName: `${name}_count`, labels: { queue, tenant }, value: count });
      });
      return out;
    });
  histogram(n.wait, 'Wait from enqueue (or the end of its delay) to the first attempt that ran, seconds, per queue and tenant', (s) => s.wait);
  histogram(n.run, 'Run time of each attempt, seconds, per queue and tenant', (s) => s.run);
  define(n.backlog, 'Jobs waiting per queue and tenant (BullMQ sample plus the fair backlog; top N tenants, the rest as "other")', 'gauge', () =>
    gauges.map((g) => ({ labels: { queue: g.queue, tenant: g.tenant }, value: g.backlog })),
  );
  define(n.active, 'Jobs running per queue and tenant (top N tenants, the rest as "other")', 'gauge', () =>
    gauges.map((g) => ({ labels: { queue: g.queue, tenant: g.tenant }, value: g.active })),
  );
}

/**
 * Registers a series whose samples are computed at scrape time (prom-client's custom-metric shape:
 * `get` answers the samples, `reset` forgets what was cached), summed across cluster workers.
 */
export function registerComputedMetric(
  registry: Registry,
  metric: { name: string; help: string; type: 'counter' | 'gauge' | 'histogram' },
  samples: () => Promise<Sample[]>,
  reset: () => void,
): void {
  const { name, help, type } = metric;
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, aggregator: 'sum', values: await samples() };
    },
    reset,
  } as never);
}
