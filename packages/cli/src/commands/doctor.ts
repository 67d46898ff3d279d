import { checkRedisServer, type RedisCheckOptions } from '@platform/redis';
import type { CliContext } from '../context';
import { parsePositiveInt, renderTable } from '../format';

/** Options of `platform doctor`. */
export interface DoctorCommandOptions {
  json?: boolean;
  strict?: boolean;
  clusterHashTags?: boolean;
  samples?: string;
  rttWarnMs?: string;
  rttFailMs?: string;
}

/** `platform doctor`: runs the server checks, prints a table (or JSON); exit 1 on any FAIL (or WARN with --strict). */
export async function doctorCommand(ctx: CliContext, options: DoctorCommandOptions): Promise<void> {
  const checkOptions: RedisCheckOptions = { clusterHashTags: options.clusterHashTags === true };
  if (options.samples !== undefined) checkOptions.rttSamples = parsePositiveInt('--samples', options.samples);
  if (options.rttWarnMs !== undefined) checkOptions.rttWarnMs = parsePositiveInt('--rtt-warn-ms', options.rttWarnMs);
  if (options.rttFailMs !== undefined) checkOptions.rttFailMs = parsePositiveInt('--rtt-fail-ms', options.rttFailMs);
  const report = await checkRedisServer(ctx.redis(), checkOptions);
  const count = (status: string) => report.checks.filter((c) => c.status === status).length;
  const fails = count('FAIL');
  const warns = count('WARN');
  if (options.json) {
    ctx.out(JSON.stringify({ redis: ctx.config.displayUrl, ok: report.ok, checks: report.checks }, null, 2));
  } else {
    ctx.out(`platform doctor: ${ctx.config.displayUrl}`);
    ctx.out();
    const rows = report.checks.map((c) => [
      c.status,
      c.id,
      c.value,
      c.status === 'PASS' ? c.message : `${c.message}\nfix: ${c.fix}`,
    ]);
    ctx.out(renderTable(['STATUS', 'CHECK', 'VALUE', 'DETAIL / FIX'], rows));
    ctx.out();
    ctx.out(`${fails} FAIL, ${warns} WARN, ${count('PASS')} PASS`);
  }
  if (fails > 0 || (options.strict && warns > 0)) ctx.exitCode = 1;
}
