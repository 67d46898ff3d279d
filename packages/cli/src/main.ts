import { isConnectionError, PlatformError } from '@platform/redis';
import { Command, CommanderError, Option } from 'commander';
import { dashboardCommand } from './commands/dashboard';
import { doctorCommand } from './commands/doctor';
import { failedListCommand, failedRetryCommand, type FailedCommandOptions } from './commands/failed';
import { metricsCommand } from './commands/metrics';
import { registerOutboxCommand } from './commands/outbox';
import { queuesCommand } from './commands/queues';
import { schedulesListCommand } from './commands/schedules';
import { CliContext, type CliIo } from './context';

/** Exit codes of `platform`. */
export const EXIT_CODES = Object.freeze({
  /** Everything passed. */
  ok: 0,
  /** A check FAILed, a replay had errors, or Redis could not be reached. */
  failure: 1,
  /** Bad arguments or configuration (REDIS_URL etc.). */
  usage: 2,
});

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
    .description('Operations tooling for @platform: Redis doctor, queue stats, failed-job replay, Prometheus metrics.\nReads REDIS_URL, REDIS_PASSWORD, REDIS_DB, REDIS_SENTINEL_HOSTS, REDIS_SENTINEL_NAME, REDIS_TLS_CA_FILE, REDIS_KEY_PREFIX.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .showHelpAfterError();

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
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" with exit code 0; commander already printed the message.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    if (error instanceof PlatformError && (error.code === 'CONFIG_INVALID' || error.code === 'INVALID_ARGUMENT')) {
      ctx.err(`platform: ${error.name}: ${error.message}`);
      return EXIT_CODES.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (isConnectionError(error)) {
      let where = '';
      try {
        where = ` at ${ctx.config.displayUrl}`;
      } catch {
        // config already reported
      }
      ctx.err(`platform: cannot reach Redis${where}: ${message}`);
    } else {
      ctx.err(`platform: ${error instanceof Error ? error.name : 'Error'}: ${message}`);
    }
    return EXIT_CODES.failure;
  } finally {
    await ctx.close();
  }
}
