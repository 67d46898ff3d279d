import { listFailedJobs, retryFailedJobs, type FailedJobsFilter } from '@platform/ops';
import { assertTenantId, InvalidArgumentError } from '@platform/redis';
import type { CliContext } from '../context';
import { parsePositiveInt, parseSince, progressBar, renderTable } from '../format';

/** Options shared by `platform failed list` and `platform failed retry`. */
export interface FailedCommandOptions {
  queue: string;
  tenant?: string;
  since?: string;
  limit?: string;
  prefix?: string;
  json?: boolean;
  yes?: boolean;
}

function filterFrom(ctx: CliContext, options: FailedCommandOptions, defaultLimit: number | undefined): FailedJobsFilter {
  if (!/^[A-Za-z0-9_-]+$/.test(options.queue)) {
    throw new InvalidArgumentError('--queue', `"${options.queue}" is not a queue name (letters, digits, "_" and "-"; e.g. agent__blog-writer)`);
  }
  if (options.tenant !== undefined) assertTenantId(options.tenant, '--tenant');
  const limit = options.limit !== undefined ? parsePositiveInt('--limit', options.limit) : defaultLimit;
  return {
    prefix: ctx.bullPrefix(options.prefix),
    ...(options.tenant !== undefined ? { tenantId: options.tenant } : {}),
    ...(options.since !== undefined ? { since: parseSince(options.since) } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

function oneLine(text: string, max = 80): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `platform failed list`: failed jobs with their reasons, newest first. */
export async function failedListCommand(ctx: CliContext, options: FailedCommandOptions): Promise<void> {
  const filter = filterFrom(ctx, options, 50);
  await ctx.assertKnownQueue(options.queue, filter.prefix!);
  const jobs = await listFailedJobs(ctx.redis(), options.queue, filter);
  if (options.json) {
    ctx.out(JSON.stringify({ queue: options.queue, jobs }, null, 2));
    return;
  }
  if (jobs.length === 0) {
    ctx.out(`no failed jobs in ${options.queue} matching the filter`);
    return;
  }
  const rows = jobs.map((j) => [
    j.id,
    j.tenantId ?? '-',
    j.finishedOn ? new Date(j.finishedOn).toISOString() : '-',
    String(j.attemptsMade),
    oneLine(j.failedReason),
  ]);
  ctx.out(renderTable(['JOB ID', 'TENANT', 'FAILED AT', 'ATTEMPTS', 'REASON'], rows));
  ctx.out();
  ctx.out(`${jobs.length} failed job(s) shown${filter.limit !== undefined && jobs.length >= filter.limit ? ` (limit ${filter.limit}; use --limit)` : ''}`);
}

/**
 * `platform failed retry`: replays each matching failed job once (BullMQ `job.retry()`, atomic:
 * a job already moved out of the failed set is skipped). Without `--yes` it only says what it would do.
 */
export async function failedRetryCommand(ctx: CliContext, options: FailedCommandOptions): Promise<void> {
  const filter = filterFrom(ctx, options, undefined);
  await ctx.assertKnownQueue(options.queue, filter.prefix!);
  const redis = ctx.redis();
  if (!options.yes) {
    const preview = await listFailedJobs(redis, options.queue, { ...filter, limit: filter.limit ?? Number.MAX_SAFE_INTEGER });
    const message = `${preview.length} failed job(s) in ${options.queue} match; nothing replayed. Re-run with --yes to replay them.`;
    if (options.json) ctx.out(JSON.stringify({ queue: options.queue, matched: preview.length, retried: [], skipped: [], errors: [], dryRun: true }, null, 2));
    else ctx.out(message);
    return;
  }
  let lastDrawn = -1;
  const result = await retryFailedJobs(redis, options.queue, {
    ...filter,
    onProgress(done, total) {
      if (ctx.io.stderrIsTTY) {
        ctx.io.stderr(`\r${progressBar(done, total)}`);
        if (done === total) ctx.io.stderr('\n');
        return;
      }
      // Not a terminal: one line per 10 %.
      const step = Math.floor((done / total) * 10);
      if (step !== lastDrawn || done === total) {
        lastDrawn = step;
        ctx.err(progressBar(done, total));
      }
    },
  });
  if (options.json) {
    ctx.out(JSON.stringify({ queue: options.queue, ...result }, null, 2));
  } else {
    ctx.out(`replayed ${result.retried.length} of ${result.matched} failed job(s) in ${options.queue}` +
      (result.skipped.length ? `; ${result.skipped.length} skipped (no longer failed: replayed by another run or removed)` : '') +
      (result.errors.length ? `; ${result.errors.length} error(s)` : ''));
    for (const e of result.errors) ctx.err(`  ${e.id}: ${e.message}`);
  }
  if (result.errors.length > 0) ctx.exitCode = 1;
}
