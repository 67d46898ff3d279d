import type { ProviderHealth } from '@platform/notifications';
import { getQueueStats, type QueueStats, type QueueStatsOptions } from '@platform/ops';
import { signalOnInterrupt, sleep, type CliContext } from '../context';
import { formatAge, parsePositiveInt, renderTable } from '../format';

/** Options of `platform queues`. */
export interface QueuesCommandOptions {
  json?: boolean;
  strict?: boolean;
  watch?: boolean | string;
  prefix?: string;
  top?: string;
  sample?: string;
  warn?: string;
  critical?: string;
}

/** One line per notification provider with a circuit breaker: `email/resend open (trips 2, probes 3, 5 failures in a row)`. */
function renderProviders(providers: readonly ProviderHealth[]): string[] {
  if (providers.length === 0) return [];
  const line = (p: ProviderHealth) =>
    `  ${p.channel}/${p.provider}  ${p.state.toUpperCase()}  trips ${p.trips}, probes ${p.probes}` +
    (p.consecutiveFailures ? `, ${p.consecutiveFailures} failure(s) in a row` : '') +
    (p.state === 'open' && p.openUntil !== undefined ? `, next probe in ${formatAge(Math.max(0, p.openUntil - Date.now()))}` : '') +
    (p.state !== 'closed' && p.lastError ? `; last error: ${p.lastError.slice(0, 80)}` : '');
  return ['', 'notification providers (circuit breakers):', ...providers.map(line)];
}

function render(stats: readonly QueueStats[], providers: readonly ProviderHealth[], options: QueueStatsOptions & { prefix: string }, url: string): string {
  const lines: string[] = [`platform queues: ${url} (prefix ${options.prefix}) at ${new Date().toISOString()}`, ''];
  if (stats.length === 0) {
    lines.push(`no queues found under "${options.prefix}:"`);
    lines.push(...renderProviders(providers));
    return lines.join('\n');
  }
  const rows = stats.map((q) => [
    q.name + (q.kind === 'bullmq' ? ' (bullmq)' : ''),
    q.status + (q.paused ? ' PAUSED' : ''),
    String(q.counts.waiting) + (q.counts.prioritized ? ` (${q.counts.prioritized} prio)` : ''),
    String(q.counts.active),
    String(q.counts.delayed),
    String(q.counts.failed),
    String(q.counts.completed),
    formatAge(q.oldestWaitingAgeMs),
    q.topTenants.map((t) => `${t.tenantId} ${t.waiting}`).join(', ') + (q.tenantSample.exact ? '' : ` (sample of ${q.tenantSample.sampled})`),
  ]);
  lines.push(renderTable(['QUEUE', 'STATUS', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'COMPLETED', 'OLDEST', 'TOP TENANTS (waiting)'], rows));
  const t = stats[0]!.thresholds;
  lines.push('');
  lines.push(`thresholds: WARN at ${t.warn} waiting jobs, CRITICAL at ${t.critical}; tenants read from at most ${options.tenantSampleSize} waiting jobs per queue`);
  lines.push(...renderProviders(providers));
  return lines.join('\n');
}

/** `platform queues`: counts, oldest waiting job, top tenants and depth status of every platform queue. */
export async function queuesCommand(ctx: CliContext, options: QueuesCommandOptions): Promise<void> {
  const statsOptions = {
    prefix: ctx.bullPrefix(options.prefix),
    topTenants: options.top !== undefined ? parsePositiveInt('--top', options.top, true) : 5,
    tenantSampleSize: options.sample !== undefined ? parsePositiveInt('--sample', options.sample, true) : 1000,
    thresholds: {
      ...(options.warn !== undefined ? { warn: parsePositiveInt('--warn', options.warn) } : {}),
      ...(options.critical !== undefined ? { critical: parsePositiveInt('--critical', options.critical) } : {}),
    },
  };
  const intervalSeconds =
    options.watch === undefined || options.watch === false ? undefined : options.watch === true ? 2 : parsePositiveInt('--watch', options.watch);
  const redis = ctx.redis();
  const once = async () => {
    const [stats, providers] = await Promise.all([getQueueStats(redis, statsOptions), ctx.providerHealth()]);
    // --strict: a queue at WARN or CRITICAL, or a provider whose breaker is not closed, fails the run (for cron checks and CI).
    if (options.strict && (stats.some((q) => q.status !== 'OK') || providers.some((p) => p.state !== 'closed'))) ctx.exitCode = 1;
    if (options.json) {
      // With --watch: one JSON document per line per refresh.
      ctx.out(intervalSeconds === undefined ? JSON.stringify({ redis: ctx.config.displayUrl, queues: stats, providers }, null, 2) : JSON.stringify({ at: new Date().toISOString(), queues: stats, providers }));
    } else {
      if (intervalSeconds !== undefined && ctx.io.stdoutIsTTY) ctx.io.stdout('\x1b[2J\x1b[H');
      ctx.out(render(stats, providers, statsOptions, ctx.config.displayUrl));
    }
  };
  if (intervalSeconds === undefined) return once();
  const { signal, dispose } = signalOnInterrupt();
  try {
    while (!signal.aborted) {
      await once();
      if (!options.json && !ctx.io.stdoutIsTTY) ctx.out();
      await sleep(intervalSeconds * 1000, signal);
    }
  } finally {
    dispose();
  }
}
