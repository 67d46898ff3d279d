import type { ProviderHealth } from '@platform/notifications';
import type { ConcurrencyPoolUsage } from '@platform/queue';
import type { TenantControlState } from './controls';
import { TENANT_LIMIT_NAMES } from './controls';
import type { RateLimiterState, TenantFailures } from './detail';
import { formatCount, formatDuration, html, type Html } from './html';
import type { Overview } from './overview';
import type { TenantPage, TenantPoolFigures, TenantQuery, TenantRow, TenantSnapshot, TenantSortKey } from './tenants';

/** URL of a tenant's page. */
export function tenantHref(base: string, tenantId: string): string {
  return `${base}/tenants/${encodeURIComponent(tenantId)}`;
}

function live(refreshMs: number, inner: Html): Html {
  return html`<div id="live" data-refresh-ms="${refreshMs}">${inner}</div>`;
}

// ---------------------------------------------------------------- overview

function providerTable(providers: readonly ProviderHealth[], withErrors: boolean): Html {
  if (providers.length === 0) return html`<p class="note">No notification provider has a circuit breaker state yet (none was called, or all healthy for 7 days).</p>`;
  const badge = (state: ProviderHealth['state']) => (state === 'closed' ? 'PASS' : state === 'open' ? 'FAIL' : 'WARN');
  return html`<table id="providers"><thead><tr><th class="text">channel</th><th class="text">provider</th><th>breaker</th><th>failures in a row</th><th>trips</th>${withErrors ? html`<th class="text">last error</th>` : ''}</tr></thead><tbody>${providers.map(
    (p) => html`<tr data-provider="${p.channel}:${p.provider}"><td class="text">${p.channel}</td><td class="text">${p.provider}</td><td><span class="badge ${badge(p.state)}">${p.state}</span>${p.openUntil ? ` until ${new Date(p.openUntil).toISOString()}` : ''}</td><td>${formatCount(p.consecutiveFailures)}</td><td>${formatCount(p.trips)}</td>${withErrors ? html`<td class="reason">${(p.lastError ?? '').slice(0, 300)}</td>` : ''}</tr>`,
  )}</tbody></table>`;
}

function poolTable(pools: readonly ConcurrencyPoolUsage[]): Html {
  return html`<h2>Concurrency pools</h2>
<table id="pools"><thead><tr><th class="text">pool</th><th>in use</th><th>max</th><th>per tenant</th><th class="text">by tenant</th></tr></thead><tbody>${pools.map(
    (p) => html`<tr data-pool="${p.name}"><td class="text">${p.name}</td><td data-field="active">${formatCount(p.active)}</td><td>${formatCount(p.max)}</td><td>${p.perTenant === undefined ? '-' : formatCount(p.perTenant)}</td><td class="text" data-field="by-tenant">${Object.entries(p.byTenant)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 10)
      .map(([tenant, n], i) => html`${i > 0 ? ', ' : ''}${tenant} ${formatCount(n)}`)}</td></tr>`,
  )}</tbody></table>`;
}

/** The refreshed part of the overview page. */
export function overviewLive(base: string, overview: Overview): Html {
  const thresholds = overview.queues[0]?.thresholds;
  const rows = overview.queues.map(
    (q) => html`<tr data-queue="${q.name}">
<td class="text">${q.name}</td>
<td data-field="state"><span class="badge ${q.status}">${q.status}</span>${q.paused ? html` <span class="badge paused">PAUSED</span>` : ''}</td>
<td data-field="waiting">${formatCount(q.counts.waiting)}${q.throughput.heldByFairScheduler > 0 ? html` <span class="note" title="held by the fair scheduler">+${formatCount(q.throughput.heldByFairScheduler)}</span>` : ''}</td>
<td data-field="active">${formatCount(q.counts.active)}</td>
<td data-field="delayed">${formatCount(q.counts.delayed)}</td>
<td data-field="failed">${formatCount(q.counts.failed)}</td>
<td data-field="completed">${formatCount(q.counts.completed)}</td>
<td data-field="oldest">${formatDuration(q.oldestWaitingAgeMs)}</td>
<td data-field="per-minute">${formatCount(q.throughput.completedLastMinute)}</td>
<td data-field="per-hour">${formatCount(q.throughput.completedLastHour)}</td>
<td data-field="failed-hour">${formatCount(q.throughput.failedLastHour)}</td>
<td class="text" data-field="top-tenants">${q.topTenants.slice(0, 3).map((t, i) => html`${i > 0 ? ', ' : ''}<a href="${tenantHref(base, t.tenantId)}">${t.tenantId}</a> ${formatCount(t.waiting)}`)}${q.tenantSample.exact ? '' : html` <span class="note">(sample)</span>`}</td>
</tr>`,
  );
  const checks = overview.redis?.checks ?? [];
  return html`<h2>Queues</h2>
<table id="queues">
<thead><tr><th class="text">queue</th><th>state</th><th>waiting</th><th>active</th><th>delayed</th><th>failed</th><th>completed</th><th>oldest waiting</th><th>done / min</th><th>done / h</th><th>failed / h</th><th class="text">top tenants (waiting)</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td class="text" colspan="12">no platform queue found</td></tr>`}</tbody>
</table>
<p class="note">${thresholds ? `States: WARN at ${formatCount(thresholds.warn)} waiting jobs, CRITICAL at ${formatCount(thresholds.critical)}. ` : ''}Waiting includes prioritized jobs (+N: jobs the fair scheduler holds back); throughput counts jobs finished in the last minute and hour.</p>
<h2>Redis</h2>
${overview.redisError ? html`<p class="error">checks could not run: ${overview.redisError}</p>` : ''}
<table id="redis-health">
<thead><tr><th class="text">check</th><th>status</th><th class="text">value</th><th class="text">detail / fix</th></tr></thead>
<tbody>${checks.map(
    (c) => html`<tr data-check="${c.id}"><td class="text">${c.id}</td><td><span class="badge ${c.status}">${c.status}</span></td><td class="text">${c.value}</td><td class="text">${c.fix || c.message}</td></tr>`,
  )}</tbody>
</table>
<h2>Notification providers</h2>
${providerTable(overview.providers, true)}
${overview.pools ? poolTable(overview.pools) : ''}
<p class="note">Read at ${new Date(overview.at).toISOString()}.</p>`;
}

/** The overview page body. */
export function overviewBody(base: string, overview: Overview, refreshMs: number): Html {
  return html`<h1>Overview</h1>${live(refreshMs, overviewLive(base, overview))}`;
}

// ---------------------------------------------------------------- tenants

const TENANT_COLUMNS: Array<{ key: TenantSortKey; label: string }> = [
  { key: 'tenantId', label: 'tenant' },
  { key: 'backlog', label: 'backlog' },
  { key: 'active', label: 'active' },
  { key: 'waitP95Ms', label: 'p95 wait' },
  { key: 'oldestWaitingAgeMs', label: 'oldest waiting' },
  { key: 'failedLastHour', label: 'failed (1 h)' },
  { key: 'completedLastHour', label: 'done (1 h)' },
];

/** The column shown when the dashboard was given concurrency pools. */
const POOL_COLUMN: { key: TenantSortKey; label: string } = { key: 'poolSlots', label: 'pool slots' };

/** A tenant's slots per pool, as `llm 2/3, embed 1` (held / per-tenant cap). */
function poolSlotsText(pools: readonly TenantPoolFigures[]): string {
  return pools.map((p) => `${p.pool} ${formatCount(p.inUse)}${p.perTenant === null ? '' : `/${formatCount(p.perTenant)}`}`).join(', ');
}

function tenantsQueryString(query: TenantQuery, change: Partial<TenantQuery>): string {
  const merged = { ...query, ...change };
  const params = new URLSearchParams();
  if (merged.search) params.set('q', merged.search);
  if (merged.sort) params.set('sort', merged.sort);
  if (merged.dir) params.set('dir', merged.dir);
  if (merged.page && merged.page > 1) params.set('page', String(merged.page));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function overridesText(state: TenantControlState | undefined): string {
  if (!state?.overrides) return '';
  return Object.entries(state.overrides)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
}

/** The refreshed part of the tenants page. */
export function tenantsLive(params: {
  base: string;
  page: TenantPage;
  query: TenantQuery;
  snapshot: TenantSnapshot;
  controls: Map<string, TenantControlState> | undefined;
}): Html {
  const { base, page, query, snapshot, controls } = params;
  const sort = query.sort ?? 'backlog';
  const dir = query.dir ?? (sort === 'tenantId' ? 'asc' : 'desc');
  const showPools = snapshot.pools.length > 0;
  const columns = showPools ? [...TENANT_COLUMNS, POOL_COLUMN] : TENANT_COLUMNS;
  const headers = columns.map((column) => {
    const active = column.key === sort;
    const nextDir = active ? (dir === 'asc' ? 'desc' : 'asc') : column.key === 'tenantId' ? 'asc' : 'desc';
    const arrow = active ? (dir === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th${column.key === 'tenantId' ? html` class="text"` : ''} data-sort="${column.key}"${active ? html` aria-sort="${dir === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${base}/tenants${tenantsQueryString(query, { sort: column.key, dir: nextDir, page: 1 })}">${column.label}${arrow}</a></th>`;
  });
  const rows = page.rows.map((row: TenantRow) => {
    const state = controls?.get(row.tenantId);
    return html`<tr data-tenant="${row.tenantId}">
<td class="text"><a href="${tenantHref(base, row.tenantId)}">${row.tenantId}</a></td>
<td data-field="backlog">${formatCount(row.backlog)}</td>
<td data-field="active">${formatCount(row.active)}</td>
<td data-field="p95">${formatDuration(row.waitP95Ms)}</td>
<td data-field="oldest">${formatDuration(row.oldestWaitingAgeMs)}</td>
<td data-field="failed">${formatCount(row.failedLastHour)}</td>
<td data-field="completed">${formatCount(row.completedLastHour)}</td>
${showPools ? html`<td data-field="pool-slots" title="${poolSlotsText(row.pools)}">${formatCount(row.poolSlots)}</td>` : ''}
${controls ? html`<td data-field="paused">${state?.paused ? html`<span class="badge paused">paused</span>` : ''}</td><td class="text" data-field="overrides">${overridesText(state)}</td>` : ''}
</tr>`;
  });
  const span = columns.length + (controls ? 2 : 0);
  return html`<table id="tenants">
<thead><tr>${headers}${controls ? html`<th>paused</th><th class="text">overrides</th>` : ''}</tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td class="text" colspan="${span}">no tenant${query.search ? ' matches' : ' has jobs'}</td></tr>`}</tbody>
</table>
<div class="pager">
<span id="tenant-count">${formatCount(page.total)} tenant${page.total === 1 ? '' : 's'}, page ${page.page} of ${page.pageCount}</span>
${page.page > 1 ? html`<a rel="prev" href="${base}/tenants${tenantsQueryString(query, { page: page.page - 1 })}">previous</a>` : ''}
${page.page < page.pageCount ? html`<a rel="next" href="${base}/tenants${tenantsQueryString(query, { page: page.page + 1 })}">next</a>` : ''}
</div>
<p class="note">${snapshot.exact ? 'Exact: every job was read.' : `Sampled: at most a fixed number of jobs per queue and state were read (${snapshot.sampled.length} state(s) larger than the sample).`} Backlog = waiting + delayed (fair-scheduled pending jobs included); p95 wait over jobs started in the last hour. Read at ${new Date(snapshot.at).toISOString()}.</p>`;
}

/** The tenants page body. */
export function tenantsBody(params: Parameters<typeof tenantsLive>[0] & { refreshMs: number }): Html {
  return html`<h1>Tenants</h1>
<form class="search" method="get" action="${params.base}/tenants" role="search">
<input id="tenant-search" type="search" name="q" value="${params.query.search ?? ''}" placeholder="search tenant id" autocomplete="off" aria-label="search tenants">
${params.query.sort ? html`<input type="hidden" name="sort" value="${params.query.sort}">` : ''}
${params.query.dir ? html`<input type="hidden" name="dir" value="${params.query.dir}">` : ''}
<noscript><button type="submit">search</button></noscript>
</form>
${live(params.refreshMs, tenantsLive(params))}`;
}

// ---------------------------------------------------------------- tenant detail

/** Everything the tenant page shows. */
export interface TenantDetail {
  tenantId: string;
  row: TenantRow | undefined;
  exact: boolean;
  failures: TenantFailures[];
  rateLimiters: RateLimiterState[];
  control: TenantControlState | undefined;
  /** Every platform queue (for the controls' queue selector). */
  queues: readonly string[];
  /** The dashboard's concurrency pools and their per-tenant caps (the tenant's own slots are in `row.pools`). */
  pools: ReadonlyArray<Omit<TenantPoolFigures, 'inUse'>>;
  /** Notification providers' breaker states (no error texts: they may name other tenants' recipients). */
  providers: ProviderHealth[];
  at: number;
}

/** What the principal may do on the tenant page. */
export interface TenantPageAbilities {
  canWrite: boolean;
  csrfToken: string;
  controls: { pause: boolean; limits: boolean };
}

function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

/** The refreshed part of the tenant page. */
export function tenantLive(base: string, detail: TenantDetail, can: TenantPageAbilities): Html {
  const href = tenantHref(base, detail.tenantId);
  const queues = detail.row?.queues ?? [];
  const state = detail.control;
  const stateLine = state
    ? html`<p id="control-state">${state.paused ? html`<span class="badge paused">paused</span> ${state.pausedQueues && state.pausedQueues.length > 0 ? `on ${state.pausedQueues.join(', ')}` : 'on every queue'}${state.pausedUntil ? ` until ${new Date(state.pausedUntil).toISOString()}` : ''}` : 'running'}${state.overrides && Object.keys(state.overrides).length > 0 ? ` · overrides: ${overridesText(state)}` : ''}</p>`
    : '';
  const notifications = queues.filter((q) => q.queue.startsWith('notifications__'));
  return html`${stateLine}
<h2>Queues</h2>
<table id="tenant-queues">
<thead><tr><th class="text">queue</th><th>waiting</th><th>active</th><th>delayed</th><th>failed (1 h)</th><th>done (1 h)</th><th>p95 wait</th><th>oldest waiting</th></tr></thead>
<tbody>${queues.length > 0
    ? queues.map(
        (q) => html`<tr data-queue="${q.queue}"><td class="text">${q.queue}</td><td data-field="waiting">${formatCount(q.waiting)}</td><td data-field="active">${formatCount(q.active)}</td><td data-field="delayed">${formatCount(q.delayed)}</td><td data-field="failed">${formatCount(q.failedLastHour)}</td><td data-field="completed">${formatCount(q.completedLastHour)}</td><td>${formatDuration(q.waitP95Ms)}</td><td>${formatDuration(q.oldestWaitingAgeMs)}</td></tr>`,
      )
    : html`<tr><td class="text" colspan="8">no jobs of this tenant in any queue</td></tr>`}</tbody>
</table>
${detail.exact ? '' : html`<p class="note">Large queues are sampled: figures come from at most a fixed number of jobs per queue and state.</p>`}
${detail.pools.length > 0 ? tenantPoolTable(detail.pools, detail.row?.pools ?? []) : ''}
<h2>Recent failures (24 h)</h2>
${detail.failures.length === 0
    ? html`<p class="note" id="no-failures">No failed job in the last 24 hours.</p>`
    : detail.failures.map(
        (f) => html`<h3>${f.queue}${can.canWrite ? html` <form class="inline" method="post" action="${href}/retry-all">${hidden('_csrf', can.csrfToken)}${hidden('queue', f.queue)}<button type="submit" data-action="retry-all" data-queue="${f.queue}">retry all failed</button></form>` : ''}</h3>
<table class="failures" data-queue="${f.queue}">
<thead><tr><th class="text">job</th><th class="text">name</th><th>attempts</th><th>failed</th><th class="text">reason</th>${can.canWrite ? html`<th></th>` : ''}</tr></thead>
<tbody>${f.jobs.map(
          (job) => html`<tr data-job="${job.id}"><td class="text">${job.id}</td><td class="text">${job.name}</td><td>${job.attemptsMade}</td><td>${job.finishedOn ? `${formatDuration(detail.at - job.finishedOn)} ago` : '-'}</td><td class="reason">${job.failedReason.slice(0, 500)}</td>${can.canWrite ? html`<td><form class="inline" method="post" action="${href}/retry">${hidden('_csrf', can.csrfToken)}${hidden('queue', f.queue)}${hidden('jobId', job.id)}<button type="submit" data-action="retry" data-job="${job.id}">retry</button></form></td>` : ''}</tr>`,
        )}</tbody>
</table>`,
      )}
<h2>Rate limiters</h2>
${detail.rateLimiters.length === 0
    ? html`<p class="note">No rate limiter key for this tenant right now (keys exist only while a window is open).</p>`
    : html`<table id="rate-limiters"><thead><tr><th class="text">provider</th><th class="text">kind</th><th class="text">state</th><th>resets in</th></tr></thead><tbody>${detail.rateLimiters.map(
        (r) => html`<tr><td class="text">${r.provider}</td><td class="text">${r.kind}</td><td class="text">${r.value}</td><td>${formatDuration(r.ttlMs)}</td></tr>`,
      )}</tbody></table>`}
<h2>Notifications</h2>
${notifications.length === 0
    ? html`<p class="note">No notification of this tenant queued, sending, sent or failed in the last hour.</p>`
    : html`<table id="notifications"><thead><tr><th class="text">channel</th><th>queued</th><th>sending</th><th>retrying / delayed</th><th>sent (1 h)</th><th>failed (1 h)</th></tr></thead><tbody>${notifications.map(
        (q) => html`<tr><td class="text">${q.queue.slice('notifications__'.length)}</td><td>${formatCount(q.waiting)}</td><td>${formatCount(q.active)}</td><td>${formatCount(q.delayed)}</td><td>${formatCount(q.completedLastHour)}</td><td>${formatCount(q.failedLastHour)}</td></tr>`,
      )}</tbody></table>`}
<h3>Provider health</h3>
${providerTable(detail.providers, false)}
<p class="note">Read at ${new Date(detail.at).toISOString()}.</p>`;
}

/** The tenant's slots in each pool: its own figures and the per-tenant cap, never the pool's total. */
function tenantPoolTable(pools: ReadonlyArray<Omit<TenantPoolFigures, 'inUse'>>, mine: readonly TenantPoolFigures[]): Html {
  return html`<h2>Concurrency pools</h2>
<table id="tenant-pools"><thead><tr><th class="text">pool</th><th>slots held</th><th>per-tenant cap</th></tr></thead><tbody>${pools.map(({ pool, perTenant }) => {
    const held = mine.find((p) => p.pool === pool)?.inUse ?? 0;
    return html`<tr data-pool="${pool}"><td class="text">${pool}</td><td data-field="in-use">${formatCount(held)}</td><td>${perTenant === null ? '-' : formatCount(perTenant)}</td></tr>`;
  })}</tbody></table>`;
}

function queueSelect(queues: readonly string[]): Html {
  return html`<select name="queue" aria-label="queue"><option value="">every queue</option>${queues.map((q) => html`<option value="${q}">${q}</option>`)}</select>`;
}

/** Notices shown after an action (by code, so no request text is ever reflected). */
export const NOTICES: Readonly<Record<string, string>> = Object.freeze({
  retried: 'The job was moved back to waiting.',
  'retried-all': 'The failed jobs were moved back to waiting.',
  paused: 'The tenant was paused.',
  resumed: 'The tenant was resumed.',
  'limits-set': 'The limits were set.',
  'limits-reset': 'The limits were reset.',
});

/** The tenant page body. */
export function tenantBody(base: string, detail: TenantDetail, can: TenantPageAbilities, refreshMs: number, notice: string | undefined): Html {
  const href = tenantHref(base, detail.tenantId);
  const message = notice !== undefined ? NOTICES[notice] : undefined;
  const controls =
    can.canWrite && (can.controls.pause || can.controls.limits)
      ? html`<div class="controls" id="tenant-controls">
${can.controls.pause
  ? html`<fieldset><legend>pause</legend>
<form method="post" action="${href}/pause">${hidden('_csrf', can.csrfToken)}${queueSelect(detail.queues)} <label>for <input type="number" name="forMinutes" min="1" step="1" placeholder="ever"> min</label> <button type="submit" id="pause-button">pause</button></form>
<form method="post" action="${href}/resume">${hidden('_csrf', can.csrfToken)}${queueSelect(detail.queues)} <button type="submit" id="resume-button">resume</button></form>
</fieldset>`
  : ''}
${can.controls.limits
  ? html`<fieldset><legend>limits</legend>
<form method="post" action="${href}/limits">${hidden('_csrf', can.csrfToken)}${queueSelect(detail.queues)}
${TENANT_LIMIT_NAMES.map((name) => html` <label>${name} <input type="number" name="${name}" min="0" step="1"></label>`)}
<label>for <input type="number" name="forMinutes" min="1" step="1" placeholder="ever"> min</label>
<button type="submit" id="limits-button">set</button></form>
<form method="post" action="${href}/limits/reset">${hidden('_csrf', can.csrfToken)}${queueSelect(detail.queues)} <button type="submit" id="reset-limits-button">reset limits</button></form>
</fieldset>`
  : ''}
</div>`
      : '';
  return html`<h1>Tenant <span id="tenant-id">${detail.tenantId}</span></h1>
${message ? html`<p class="notice" role="status">${message}</p>` : ''}
${controls}
${live(refreshMs, tenantLive(base, detail, can))}`;
}
