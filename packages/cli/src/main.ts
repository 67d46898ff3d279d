import { FairnessRequiredError } from '@platform/queue';
import { isConnectionError, PlatformError } from '@platform/redis';
import { Command, CommanderError, Option } from 'commander';
import { dashboardCommand } from './commands/dashboard';
import { doctorCommand } from './commands/doctor';
import { failedListCommand, failedRetryCommand, type FailedCommandOptions } from './commands/failed';
import { metricsCommand } from './commands/metrics';
import { registerOutboxCommand } from './commands/outbox';
import { queuesCommand } from './commands/queues';
import { schedulesListCommand } from './commands/schedules';
import { tenantsListCommand, tenantsShowCommand } from './commands/tenants';
import { registerTenantControlCommands } from './commands/tenants-control';
import { CliContext, UnknownQueueError, type CliIo } from './context';

/** Exit codes of `platform`. */
export const EXIT_CODES = Object.freeze({
  /** Everything passed. */
  ok: 0,
  /** A check FAILed, a replay had errors, or Redis could not be reached. */
  failure: 1,
  /** Bad arguments or configuration (REDIS_URL etc.), or an unknown queue. */
  usage: 2,
});

/** The CLI's version (its package.json, next to both `src/` and `dist/`). */
function cliVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Error codes of `--json` error documents (`{ "error": { "code", "message", ... } }`). */
type CliErrorCode = 'USAGE' | 'CONFIG_INVALID' | 'INVALID_ARGUMENT' | 'UNKNOWN_QUEUE' | 'FAIRNESS_REQUIRED' | 'REDIS_UNAVAILABLE' | 'NOT_REDIS' | 'ERROR';

/** A server that answers, but not in the Redis protocol (an HTTP server, a database on the wrong port). */
function isNotRedis(error: unknown): boolean {
  return error instanceof Error && /Unknown RESP type|Protocol error/i.test(error.message);
}

function defaultIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
  };
}

const PREFIX_HELP = 'BullMQ key prefix (default: bull, or <REDIS_KEY_PREFIX>:bull)';

function buildProgram(ctx: CliContext): Command {
  const program = new Command('platform')
    .description('Operations tooling for @platform: Redis doctor, queue stats, failed-job replay, Prometheus metrics.\nReads REDIS_URL, REDIS_PASSWORD, REDIS_DB, REDIS_SENTINEL_HOSTS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES, REDIS_TLS_CA_FILE, REDIS_KEY_PREFIX.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      // With --json, a usage error becomes a JSON document (printed by main), not text.
      outputError: (s, write) => (ctx.json ? undefined : write(s)),
    })
    .showHelpAfterError(!ctx.json);

  program
    .command('doctor')
    .description('check that Redis is fit for the platform (PASS/WARN/FAIL with the fix); exit 1 on any FAIL')
    .option('--json', 'print the report as JSON')
    .option('--strict', 'exit 1 on WARN too')
    .option('--cluster-hash-tags', 'accept a Redis Cluster node reached through REDIS_URL (with REDIS_CLUSTER_NODES set, every node is checked anyway)')
    .option('--samples <n>', 'PINGs used to measure the round-trip time', '20')
    .option('--rtt-warn-ms <ms>', 'median round trip above which RTT is WARN (default 1)')
    .option('--rtt-fail-ms <ms>', 'median round trip above which RTT is FAIL (default 5)')
    .action((opts) => doctorCommand(ctx, opts));

  program
    .command('queues')
    .description('counts, oldest waiting job and top tenants of every platform queue')
    .option('--json', 'print JSON (one line per refresh with --watch)')
    .option('--strict', 'exit 1 when a queue is WARN or CRITICAL (or a notification provider\'s breaker is not closed)')
    .option('--watch [seconds]', 'refresh every N seconds (default 2) until Ctrl-C')
    .option('--prefix <prefix>', PREFIX_HELP)
    .option('--top <n>', 'tenants listed per queue', '5')
    .option('--sample <n>', 'waiting jobs read per queue to rank tenants', '1000')
    .option('--warn <n>', 'waiting jobs at which a queue is WARN', '1000')
    .option('--critical <n>', 'waiting jobs at which a queue is CRITICAL', '10000')
    .action((opts) => queuesCommand(ctx, opts));

  program
    .command('schedules')
    .description('per-tenant schedules (BullMQ job schedulers made by tenantSchedules)')
    .command('list')
    .description('list the tenant schedules of every queue')
    .option('--tenant <tenantId>', 'only schedules of this tenant')
    .option('--prefix <prefix>', PREFIX_HELP)
    .option('--json', 'print JSON')
    .action((opts) => schedulesListCommand(ctx, opts));

  const tenants = program
    .command('tenants')
    .description('per-tenant backlog, activity, wait and failures (read from Redis); pause, resume, set-limits, reset');
  tenants
    .command('list')
    .description('every tenant of every queue (or one): backlog, active, p95 wait and failures in the last hour')
    .option('--queue <name>', 'only this queue')
    .option('--sort <key>', 'backlog | wait | failed', 'backlog')
    .option('--limit <n>', 'rows shown (JSON: all)', '50')
    .option('--prefix <prefix>', PREFIX_HELP)
    .option('--json', 'print JSON')
    .action((opts) => tenantsListCommand(ctx, opts));
  tenants
    .command('show')
    .description('one tenant on every queue: backlog, active, wait, the last hour\'s outcomes and deferrals')
    .argument('<tenantId>', 'the tenant id')
    .option('--queue <name>', 'only this queue')
    .option('--prefix <prefix>', PREFIX_HELP)
    .option('--json', 'print JSON')
    .action((tenantId: string, opts) => tenantsShowCommand(ctx, tenantId, opts));
  registerTenantControlCommands(tenants, ctx, PREFIX_HELP);

  const failed = program.command('failed').description('inspect and replay failed jobs');
  const filterOptions = (command: Command) =>
    command
      .requiredOption('--queue <name>', 'queue name, e.g. agent__blog-writer')
      .option('--tenant <tenantId>', 'only jobs of this tenant')
      .option('--since <when>', 'only jobs that failed since an ISO date or a duration ago (30m, 1h, 2d)')
      .option('--prefix <prefix>', PREFIX_HELP)
      .option('--json', 'print JSON');
  filterOptions(failed.command('list').description('list failed jobs with their reasons, newest first'))
    .option('--limit <n>', 'jobs shown', '50')
    .action((opts: FailedCommandOptions) => failedListCommand(ctx, opts));
  filterOptions(failed.command('retry').description('replay each matching failed job once (progress on stderr)'))
    .option('--limit <n>', 'replay at most N jobs (newest failures first)')
    .addOption(new Option('--yes', 'really replay (without it, only counts what would be replayed)'))
    .action((opts: FailedCommandOptions) => failedRetryCommand(ctx, opts));

  program
    .command('metrics')
    .description('serve Prometheus /metrics and /healthz until Ctrl-C')
    .requiredOption('--port <port>', 'TCP port (0 picks a free one)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--prefix <prefix>', PREFIX_HELP)
    .option('--top <n>', 'tenants with their own series per queue', '10')
    .option('--sample <n>', 'waiting jobs read per queue and scrape to rank tenants', '1000')
    .action((opts) => metricsCommand(ctx, opts));


  registerOutboxCommand(program, ctx);
  program
    .command('dashboard')
    .description('serve the web dashboard until Ctrl-C (needs PLATFORM_DASHBOARD_TOKEN)')
    .requiredOption('--port <port>', 'TCP port (0 picks a free one)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--prefix <prefix>', 'BullMQ key prefix (default: bull, under REDIS_KEY_PREFIX)')
    .option('--base-path <path>', 'URL path to serve under, e.g. /ops')
    .action((opts) => dashboardCommand(ctx, opts));

  return program;
}

/**
 * Runs the `platform` CLI with `args` (without the node and script paths, i.e.
 * `process.argv.slice(2)`) and resolves with the exit code. Never calls `process.exit`, so tests
 * can run it in-process. Errors are printed as one line without a stack trace (and never with a
 * password: config errors name the variable, URLs are shown redacted).
 */
export async function main(args: readonly string[] = process.argv.slice(2), io: Partial<CliIo> = {}): Promise<number> {
  const ctx = new CliContext({ ...defaultIo(), ...io });
  ctx.json = args.includes('--json');
  const program = buildProgram(ctx);
  const fail = (code: CliErrorCode, message: string, exitCode: number, extra: Record<string, unknown> = {}): number => {
    if (ctx.json) ctx.out(JSON.stringify({ error: { code, message, ...extra } }, null, 2));
    else ctx.err(`platform: ${message}`);
    return exitCode;
  };
  try {
    await program.parseAsync([...args], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" with exit code 0; commander already printed the message.
      if (error.exitCode === 0) return EXIT_CODES.ok;
      return ctx.json ? fail('USAGE', error.message.replace(/^error: /, ''), EXIT_CODES.usage) : EXIT_CODES.usage;
    }
    if (error instanceof UnknownQueueError) {
      return fail('UNKNOWN_QUEUE', `${error.name}: ${error.message}`, EXIT_CODES.usage, { queue: error.queue, prefix: error.prefix, known: error.known });
    }
    if (error instanceof FairnessRequiredError) {
      // A tenant control asked of a queue without fair scheduling: the message says how to enable it.
      return fail('FAIRNESS_REQUIRED', error.message, EXIT_CODES.usage, { queue: error.queueName });
    }
    if (error instanceof PlatformError && (error.code === 'CONFIG_INVALID' || error.code === 'INVALID_ARGUMENT')) {
      return fail(error.code, `${error.name}: ${error.message}`, EXIT_CODES.usage);
    }
    let where = '';
    try {
      where = ` at ${ctx.config.displayUrl}`;
    } catch {
      // config already reported
    }
    const message = error instanceof Error ? error.message : String(error);
    const cause = ctx.lastConnectionError;
    if (isNotRedis(error) || isNotRedis(cause)) {
      return fail('NOT_REDIS', `the server${where} is not Redis: it answered with something other than the Redis protocol (${(isNotRedis(error) ? message : cause!.message).replace(/\. Please report this\.$/, '')}); check REDIS_URL's host and port`, EXIT_CODES.failure);
    }
    if (isConnectionError(error) || (cause && isConnectionError(cause))) {
      // The connection's own error (ECONNREFUSED, ETIMEDOUT...) says more than "max retries reached".
      return fail('REDIS_UNAVAILABLE', `cannot reach Redis${where}: ${cause?.message ?? message}`, EXIT_CODES.failure);
    }
    return fail('ERROR', `${error instanceof Error ? error.name : 'Error'}: ${message}`, EXIT_CODES.failure);
  } finally {
    await ctx.close();
  }
}
