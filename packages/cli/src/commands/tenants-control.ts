import {
  pauseTenant,
  resetTenantLimits,
  resumeTenant,
  setTenantLimits,
  type TenantControlChange,
  type TenantControlOptions,
  type TenantControlTarget,
  type TenantLimitsOverride,
  type TenantOverrideState,
} from '@platform/queue';
import { InvalidArgumentError, assertTenantId } from '@platform/redis';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parsePositiveInt, renderTable } from '../format';

/** Options shared by `platform tenants pause|resume|set-limits|reset`. */
export interface TenantControlCommandOptions {
  queue?: string[];
  all?: boolean;
  for?: string;
  actor?: string;
  prefix?: string;
  json?: boolean;
  weight?: string;
  maxActive?: string;
  rate?: string;
  maxPending?: string;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `--for`: `500ms`, `90s`, `30m`, `1h`, `2d`. */
export function parseDuration(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(text.trim());
  const ms = match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!) : NaN;
  if (!(ms >= 1)) throw new InvalidArgumentError(name, `"${text}" is not a duration such as 500ms, 90s, 30m, 1h or 2d`);
  return ms;
}

/** Parses `--rate <max>/<duration>` (`100/1m`) or `none`. */
export function parseRate(text: string): TenantLimitsOverride['rate'] {
  if (text.trim().toLowerCase() === 'none') return null;
  const [max, duration, ...rest] = text.split('/');
  if (max === undefined || duration === undefined || rest.length > 0) {
    throw new InvalidArgumentError('--rate', `"${text}" is not <max>/<duration> (e.g. 100/1m) or none`);
  }
  return { max: parsePositiveInt('--rate', max), durationMs: parseDuration('--rate', duration) };
}

function target(options: TenantControlCommandOptions): TenantControlTarget {
  const queues = options.queue ?? [];
  if (options.all && queues.length > 0) throw new InvalidArgumentError('--all', 'give either --queue or --all, not both');
  if (options.all) return 'all';
  if (queues.length === 0) throw new InvalidArgumentError('--queue', 'name a queue (--queue agent__writer, repeatable) or --all');
  return queues;
}

function describe(change: TenantControlChange): string {
  const state = change.current ?? change.previous;
  if (change.action === 'pause') {
    const until = change.current?.untilMs;
    return until === undefined ? 'paused until resumed' : `paused until ${new Date(until).toISOString()}`;
  }
  if (change.action === 'resume') return change.previous ? 'resumed' : 'was not paused';
  if (change.action === 'reset') return change.previous ? 'override removed' : 'had no override';
  const values: TenantLimitsOverride = state && 'values' in state ? (state as TenantOverrideState).values : {};
  const parts: string[] = [];
  if (values.weight !== undefined) parts.push(`weight=${values.weight}`);
  if (values.maxActive !== undefined) parts.push(`maxActive=${values.maxActive}`);
  if (values.rate !== undefined) parts.push(`rate=${values.rate === null ? 'none' : `${values.rate.max}/${values.rate.durationMs}ms`}`);
  if (values.maxPending !== undefined) parts.push(`maxPending=${values.maxPending}`);
  const until = change.current?.untilMs;
  return `${parts.join(' ')}${until === undefined ? '' : ` until ${new Date(until).toISOString()}`}`;
}

async function run(
  ctx: CliContext,
  tenantId: string,
  options: TenantControlCommandOptions,
  apply: (target: TenantControlTarget, common: TenantControlOptions) => Promise<TenantControlChange[]>,
): Promise<void> {
  assertTenantId(tenantId, 'tenantId');
  const where = target(options);
  const common: TenantControlOptions = {
    connection: ctx.redis(),
    prefix: ctx.bullPrefix(options.prefix),
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
  };
  // A queue without fair scheduling throws FairnessRequiredError: main reports it (exit 2).
  const changes = await apply(where, common);
  if (options.json) {
    ctx.out(JSON.stringify({ redis: ctx.config.displayUrl, changes }, null, 2));
    return;
  }
  if (changes.length === 0) {
    ctx.out(`no fair queue is registered under "${common.prefix}:"`);
    return;
  }
  ctx.out(renderTable(['QUEUE', 'TENANT', 'ACTION', 'NOW'], changes.map((c) => [c.queue, c.tenantId, c.action, describe(c)])));
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * Registers `platform tenants pause|resume|set-limits|reset` under the `tenants` command. Each writes
 * the control to Redis (producers and workers apply it within a second) and an audit entry.
 */
export function registerTenantControlCommands(tenants: Command, ctx: CliContext, prefixHelp: string): void {
  const common = (command: Command, allowAll: boolean): Command => {
    command
      .argument('<tenantId>', 'the tenant')
      .option('--queue <name>', 'a fair queue, e.g. agent__writer (repeatable)', collect)
      .option('--actor <who>', 'who makes the change, for the audit trail (default: PLATFORM_ACTOR or user@host)')
      .option('--prefix <prefix>', prefixHelp)
      .option('--json', 'print JSON');
    if (allowAll) command.option('--all', 'every fair queue registered under the prefix');
    return command;
  };

  common(tenants.command('pause').description("stop handing out a tenant's jobs (active ones finish); --for resumes by itself"), true)
    .option('--for <duration>', 'resume by itself after 500ms, 90s, 30m, 1h, 2d')
    .action((tenantId: string, opts: TenantControlCommandOptions) =>
      run(ctx, tenantId, opts, (t, o) => pauseTenant(t, tenantId, { ...o, ...(opts.for !== undefined ? { forMs: parseDuration('--for', opts.for) } : {}) })),
    );

  common(tenants.command('resume').description("hand out a paused tenant's jobs again"), true).action((tenantId: string, opts: TenantControlCommandOptions) =>
    run(ctx, tenantId, opts, (t, o) => resumeTenant(t, tenantId, o)),
  );

  common(tenants.command('set-limits').description("override the code's limits for a tenant (replaces an earlier override)"), true)
    .option('--weight <n>', 'share of hand-outs, in (0, 1000]')
    .option('--max-active <n>', 'most jobs handed out or active at once (0 = no limit)')
    .option('--rate <max/duration>', 'per-tenant rate, e.g. 100/1m, or none')
    .option('--max-pending <n>', 'backlog cap: most pending jobs (0 = no cap)')
    .option('--for <duration>', 'end the override by itself after 500ms, 90s, 30m, 1h, 2d')
    .action((tenantId: string, opts: TenantControlCommandOptions) => {
      const limits: TenantLimitsOverride = {};
      if (opts.weight !== undefined) {
        const weight = Number(opts.weight);
        if (!(weight > 0 && weight <= 1000)) throw new InvalidArgumentError('--weight', `must be in (0, 1000], got "${opts.weight}"`);
        limits.weight = weight;
      }
      if (opts.maxActive !== undefined) limits.maxActive = parsePositiveInt('--max-active', opts.maxActive, true);
      if (opts.rate !== undefined) limits.rate = parseRate(opts.rate);
      if (opts.maxPending !== undefined) limits.maxPending = parsePositiveInt('--max-pending', opts.maxPending, true);
      if (Object.keys(limits).length === 0) throw new InvalidArgumentError('set-limits', 'give at least one of --weight, --max-active, --rate, --max-pending');
      return run(ctx, tenantId, opts, (t, o) =>
        setTenantLimits(t, tenantId, limits, { ...o, ...(opts.for !== undefined ? { forMs: parseDuration('--for', opts.for) } : {}) }),
      );
    });

  common(tenants.command('reset').description("remove a tenant's override: the code's limits apply again"), true).action(
    (tenantId: string, opts: TenantControlCommandOptions) => run(ctx, tenantId, opts, (t, o) => resetTenantLimits(t, tenantId, o)),
  );
}
