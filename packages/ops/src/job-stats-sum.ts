import { jobStats, type JobStatsSlot, type TenantJobStats } from '@platform/queue';

/** A zeroed {@link TenantJobStats}. */
export function emptyStats(): TenantJobStats {
  const zeros = () => Array<number>(jobStats.buckets.length + 1).fill(0);
  return { enqueued: 0, completed: 0, failed: 0, failedAttempts: 0, deferred: {}, wait: { buckets: zeros(), sumMs: 0 }, run: { buckets: zeros(), sumMs: 0 } };
}

/**
 * Adds `from` into `into`. With `minus`, adds only what `from` has beyond it (each value
 * `max(0, from - minus)`): the growth of a slot between two reads (slot counters only grow).
 */
export function addStats(into: TenantJobStats, from: TenantJobStats, minus?: TenantJobStats): void {
  const d = (a: number, b: number | undefined) => (b === undefined ? a : Math.max(0, a - b));
  into.enqueued += d(from.enqueued, minus?.enqueued);
  into.completed += d(from.completed, minus?.completed);
  into.failed += d(from.failed, minus?.failed);
  into.failedAttempts += d(from.failedAttempts, minus?.failedAttempts);
  for (const [reason, n] of Object.entries(from.deferred)) into.deferred[reason] = (into.deferred[reason] ?? 0) + d(n, minus ? (minus.deferred[reason] ?? 0) : undefined);
  for (const key of ['wait', 'run'] as const) {
    into[key].sumMs += d(from[key].sumMs, minus?.[key].sumMs);
    from[key].buckets.forEach((n, i) => (into[key].buckets[i] = (into[key].buckets[i] ?? 0) + d(n, minus?.[key].buckets[i])));
  }
}

/** Per tenant, the sum of some slots. */
export function sumSlots(slots: readonly JobStatsSlot[]): Map<string, TenantJobStats> {
  const total = new Map<string, TenantJobStats>();
  for (const slot of slots) {
    for (const [tenantId, stats] of slot.tenants) {
      let into = total.get(tenantId);
      if (!into) total.set(tenantId, (into = emptyStats()));
      addStats(into, stats);
    }
  }
  return total;
}

/**
 * A quantile of a histogram in seconds, interpolated linearly within its bucket (as Prometheus'
 * `histogram_quantile`); `null` without observations. In the +Inf bucket: the last finite bound.
 */
export function quantileSeconds(buckets: readonly number[], q: number): number | null {
  const count = buckets.reduce((a, b) => a + b, 0);
  if (count === 0) return null;
  const rank = q * count;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const upper = jobStats.buckets[i];
      if (upper === undefined) return jobStats.buckets[jobStats.buckets.length - 1]!;
      const lower = i === 0 ? 0 : jobStats.buckets[i - 1]!;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return jobStats.buckets[jobStats.buckets.length - 1]!;
}
