import { getTenantStats, sortTenantStats, type TenantQueueStats, type TenantSort } from '@platform/ops';
import { assertTenantId, InvalidArgumentError } from '@platform/redis';
import type { CliContext } from '../context';
import { parsePositiveInt, renderTable } from '../format';

/** Options of `platform tenants list`. */
export interface TenantsListOptions {
  queue?: string;
  sort?: string;
  limit?: string;
  prefix?: string;
  json?: boolean;
}

/** Options of `platform tenants show`. */
export interface TenantsShowOptions {
  queue?: string;
  prefix?: string;
  json?: boolean;
}

const SORTS: readonly TenantSort[] = ['backlog', 'wait', 'failed'];

function seconds(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? `${value.toFixed(2)} s` : `${Math.round(value)} s`;
}

/** A row as `--json` prints it: the ops row plus the names operators look for. */
function jsonRow(row: TenantQueueStats) {
  return {
    ...row,
    failedLastHour: row.recent.failed,
    // Tenant pause and limit overrides are read once tenant controls exist on this Redis; until then
    // only a paused queue pauses a tenant.
    paused: row.queuePaused,
    overrides: null,
  };
}

async function queuesFor(ctx: CliContext, queue: string | undefined, prefix: string): Promise<string[] | undefined> {
  if (queue === undefined) return undefined;
  await ctx.assertKnownQueue(queue, prefix);
  return [queue];
}

/** `platform tenants list`: every tenant of every queue (or one), sorted by backlog, p95 wait or failures. */
export async function tenantsListCommand(ctx: CliContext, options: TenantsListOptions): Promise<void> {
  const sort = (options.sort ?? 'backlog') as TenantSort;
  if (!SORTS.includes(sort)) throw new InvalidArgumentError('--sort', `must be one of ${SORTS.join(', ')}, got "${options.sort}"`);
  const limit = parsePositiveInt('--limit', options.limit ?? '50');
  const prefix = ctx.bullPrefix(options.prefix);
  const queues = await queuesFor(ctx, options.queue, prefix);
  const report = await getTenantStats(ctx.redis(), { prefix, ...(queues ? { queues } : {}) });
  const rows = sortTenantStats(report.tenants, sort);
  if (options.json) {
    ctx.out(JSON.stringify({ redis: ctx.config.displayUrl, prefix, queues: report.queues, windowMs: report.windowMs, sort, tenants: rows.map(jsonRow) }, null, 2));
    return;
  }
  ctx.out(`platform tenants: ${ctx.config.displayUrl} (prefix ${prefix}), sorted by ${sort}; "last hour" = the last ${Math.round(report.windowMs / 60_000)} min`);
  ctx.out();
  if (rows.length === 0) {
    ctx.out(report.queues.length === 0 ? `no queues under "${prefix}:"` : 'no tenant has jobs waiting, running or recorded in the last hour');
    return;
  }
  const shown = rows.slice(0, limit);
  ctx.out(
    renderTable(
      ['QUEUE', 'TENANT', 'BACKLOG', 'ACTIVE', 'P95 WAIT', 'FAILED 1H', 'DONE 1H', 'PAUSED', 'OVERRIDES'],
      shown.map((r) => [
        r.queue,
        r.tenantId,
        `${r.backlog}${r.backlogExact ? '' : '+'}`,
        String(r.active),
        seconds(r.waitP95Seconds),
        String(r.recent.failed),
        String(r.recent.completed),
        r.queuePaused ? 'queue' : '-',
        '-',
      ]),
    ),
  );
  ctx.out();
  ctx.out(`${shown.length} of ${rows.length} row(s)${shown.length < rows.length ? ' (use --limit)' : ''}; "+": more jobs wait than were sampled`);
}

/** `platform tenants show <id>`: one tenant on every queue (or one). */
export async function tenantsShowCommand(ctx: CliContext, tenantId: string, options: TenantsShowOptions): Promise<void> {
  assertTenantId(tenantId, 'tenantId');
  const prefix = ctx.bullPrefix(options.prefix);
  const queues = await queuesFor(ctx, options.queue, prefix);
  const report = await getTenantStats(ctx.redis(), { prefix, tenantId, ...(queues ? { queues } : {}) });
  if (options.json) {
    ctx.out(JSON.stringify({ redis: ctx.config.displayUrl, prefix, tenantId, windowMs: report.windowMs, queues: report.tenants.map(jsonRow), audit: null }, null, 2));
    return;
  }
  ctx.out(`tenant ${tenantId} on ${ctx.config.displayUrl} (prefix ${prefix}); "last hour" = the last ${Math.round(report.windowMs / 60_000)} min`);
  ctx.out();
  if (report.tenants.length === 0) {
    ctx.out(`no jobs of ${tenantId} waiting, running or recorded in the last hour on ${report.queues.length} queue(s)`);
    return;
  }
  ctx.out(
    renderTable(
      ['QUEUE', 'BACKLOG', 'ACTIVE', 'P95 WAIT', 'ENQUEUED', 'DONE', 'FAILED', 'FAILED ATTEMPTS', 'DEFERRED', 'PAUSED'],
      report.tenants.map((r) => [
        r.queue,
        `${r.backlog}${r.backlogExact ? '' : '+'}`,
        String(r.active),
        seconds(r.waitP95Seconds),
        String(r.recent.enqueued),
        String(r.recent.completed),
        String(r.recent.failed),
        String(r.recent.failedAttempts),
        Object.entries(r.recent.deferred).map(([reason, n]) => `${reason} ${n}`).join(', ') || '-',
        r.queuePaused ? 'queue' : '-',
      ]),
    ),
  );
}
