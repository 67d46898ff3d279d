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

function render(stats: readonly QueueStats[], options: QueueStatsOptions & { prefix: string }, url: string): string {
  const lines: string[] = [`platform queues: ${url} (prefix ${options.prefix}) at ${new Date().toISOString()}`, ''];
  if (stats.length === 0) {
    lines.push(`no platform queues (namespace__name) found under "${options.prefix}:"`);
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
    const stats = await getQueueStats(redis, statsOptions);
    // --strict: a queue at WARN or CRITICAL fails the run (for cron checks and CI).
    if (options.strict && stats.some((q) => q.status !== 'OK')) ctx.exitCode = 1;
    if (options.json) {
      // With --watch: one JSON document per line per refresh.
      ctx.out(intervalSeconds === undefined ? JSON.stringify({ redis: ctx.config.displayUrl, queues: stats }, null, 2) : JSON.stringify({ at: new Date().toISOString(), queues: stats }));
    } else {
      if (intervalSeconds !== undefined && ctx.io.stdoutIsTTY) ctx.io.stdout('\x1b[2J\x1b[H');
      ctx.out(render(stats, statsOptions, ctx.config.displayUrl));
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
