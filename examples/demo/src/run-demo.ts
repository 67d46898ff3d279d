import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGENT_ROLES, startAgentService, startSemrushStub } from '@platform-examples/agent-service';
import { startNotificationService } from '@platform-examples/notification-service';
import { agentQueue, createRedisConnection, loadRedisConfig, ragIngestionQueue } from '@platform/queue';
import { serveDashboard, type RunningDashboard } from '@platform/dashboard';
import { closeConnection } from '@platform/redis';
import { deleteKeysByPrefix, resolveDevRedis } from '@platform/testing';
import { startSmtpSink } from './smtp-sink';
import { table } from './summary';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Redis to use. @defaultValue REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server */
  redisUrl?: string;
  /** How long tenants send traffic. @defaultValue `6` */
  trafficSeconds?: number;
  /** Longest wait for the queues to drain after the traffic stops. @defaultValue `60` */
  drainSeconds?: number;
  /** Tenants sending traffic. @defaultValue five tenants */
  tenants?: string[];
  /** Print the progress line and summary. @defaultValue `true` */
  print?: boolean;
  /** Serve the dashboard on the demo's queues while the demo runs. @defaultValue none */
  dashboard?: DemoDashboardOptions;
}

/** Options of the demo's dashboard (`npm run demo -- --dashboard`). */
export interface DemoDashboardOptions {
  /** TCP port; `0` picks a free one. @defaultValue `3000` */
  port?: number;
  /** Admin token. @defaultValue PLATFORM_DASHBOARD_TOKEN, else a random one printed with the URL */
  token?: string;
  /** Awaited after the summary, before the demo's keys are deleted (the demo waits for Ctrl-C here). */
  beforeClose?: (url: string, token: string) => Promise<void>;
}

/** The demo's outcome. */
export interface DemoResult {
  enqueued: number;
  completed: number;
  lost: number;
  failures: number;
  completedByQueueAndTenant: Record<string, Record<string, number>>;
  notificationsSent: number;
  notificationsDeduplicated: number;
  /** E-mails the demo's local SMTP server received (sent through the SMTP adapter). */
  emailsReceived: number;
  /** E-mail notifications the workers reported delivered. */
  emailsDelivered: number;
  rateLimited: number;
  lockWaits: number;
  summary: string;
}

const DEFAULT_TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];

/**
 * Runs both example services in this process against one Redis, drives a burst of traffic from
 * several tenants for a bounded time, waits for every queue to drain, and reports.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? true;
  const log = (line: string) => print && console.log(line);
  const found = options.redisUrl ? { url: options.redisUrl, source: 'env' as const, server: undefined } : await resolveDevRedis();
  const config = loadRedisConfig({ ...process.env, REDIS_URL: found.url });
  log(`Redis: ${found.source === 'private' ? `throwaway redis-server on ${config.displayUrl}` : config.displayUrl}`);

  const prefix = `demo-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const tenants = options.tenants ?? DEFAULT_TENANTS;
  const redis = createRedisConnection(config, { role: 'producer' });
  const workerConnection = createRedisConnection(config, { role: 'worker' });
  const semrushStub = await startSemrushStub();
  // E-mails go through the SMTP adapter to an SMTP server the demo runs itself.
  const smtpSink = await startSmtpSink();
  const { createSmtpSender } = await import('@platform/notifications');
  const smtp = createSmtpSender({ host: '127.0.0.1', port: smtpSink.port, from: 'Platform demo <demo@platform.test>', maxConnections: 2 });

  let webhookCalls = 0;
  const webhook = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      webhookCalls += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ providerMessageId: `web-${webhookCalls}` }));
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/notify`;

  // 10 SEMrush calls per tenant per window; a short window so the demo sees delays and recovery.
  const semrushLimit = { limit: 10, windowSeconds: 3 };
  const agents = startAgentService({ redis, workerConnection, prefix, semrushUrl: semrushStub.url, semrushLimit, handleSignals: false });
  const notifier = startNotificationService({
    prefix,
    connection: workerConnection,
    webhookUrl,
    webhookChannel: 'web',
    senders: { email: smtp },
    write: () => undefined,
    handleSignals: false,
  });

  const producers = {
    agents: AGENT_ROLES.map((role) => agentQueue(role, { prefix, connection: redis })),
    rag: ragIngestionQueue({ prefix, connection: redis }),
  };

  let dashboard: RunningDashboard | undefined;
  let dashboardToken = '';
  if (options.dashboard) {
    const given = options.dashboard.token ?? process.env.PLATFORM_DASHBOARD_TOKEN;
    dashboardToken = given ?? randomBytes(18).toString('base64url');
    dashboard = await serveDashboard({ port: options.dashboard.port ?? 3000, redis, prefix, token: dashboardToken, env: {} });
    log(`Dashboard: ${dashboard.url} (user: any, password: ${given ? 'the token in PLATFORM_DASHBOARD_TOKEN' : dashboardToken})`);
  }

  let enqueued = 0;
  const enqueuedByQueue = new Map<string, number>();
  const note = (queue: string, n: number) => {
    enqueued += n;
    enqueuedByQueue.set(queue, (enqueuedByQueue.get(queue) ?? 0) + n);
  };

  const completedTotal = () => {
    let sum = 0;
    for (const byTenant of agents.stats.completed.values()) for (const n of byTenant.values()) sum += n;
    return sum;
  };
  // A live line on a terminal; elsewhere (CI logs) a plain line every two seconds.
  let lastLine = 0;
  const progress = (label: string, final = false) => {
    if (!print) return;
    const tty = Boolean(process.stdout.isTTY);
    if (!tty && !final && Date.now() - lastLine < 2000) return;
    lastLine = Date.now();
    const sent = [...notifier.delivered.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
    const line =
      `${label.padEnd(10)} enqueued ${enqueued}  completed ${completedTotal()}  rate-limited ${agents.stats.rateLimited}  ` +
      `lock waits ${agents.stats.lockWaits}  e-mails sent ${sent}`;
    process.stdout.write(tty ? `\r${line}   ` : `${line}\n`);
  };

  // Traffic: each tick every tenant starts an activity (planner, keyword research, writers on the
  // same activity, so they contend for its lock), ingests a document every other tick (the first
  // included, so even a one-tick run on a loaded machine covers every queue), and one tenant bursts.
  // Web notifications go through the webhook sender.
  const trafficMs = (options.trafficSeconds ?? 6) * 1000;
  const started = Date.now();
  let tick = 0;
  while (Date.now() - started < trafficMs) {
    tick += 1;
    for (const tenantId of tenants) {
      const burst = tenantId === tenants[0] ? 3 : 1;
      for (let b = 0; b < burst; b++) {
        const activityId = `${prefix}-${tenantId}-${tick}-${b}`;
        for (const definition of producers.agents) {
          await definition.enqueue({ tenantId, activityId, input: { topic: `topic ${tick}` } });
          note(definition.name, 1);
        }
      }
      if (tick % 2 === 1) {
        await producers.rag.enqueue({ tenantId, documentId: `${tenantId}-doc-${tick}`, source: `s3://docs/${tenantId}/${tick}.pdf` });
        note(producers.rag.name, 1);
      }
    }
    progress('traffic');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // Web notifications through the webhook sender, including a duplicate of each.
  const { notifyOnce } = await import('@platform/notifications');
  let webDeduplicated = 0;
  for (const tenantId of tenants) {
    for (let i = 0; i < 2; i++) {
      const result = await notifyOnce(
        { tenantId, type: 'daily-digest', dedupeKey: `${prefix}-digest`, channel: 'web', payload: { userId: `owner-${tenantId}`, title: 'Daily digest', body: 'Your agents finished their work.' } },
        { keyPrefix: prefix },
      );
      if (!result.enqueued) webDeduplicated += 1;
    }
  }

  const drainDeadline = Date.now() + (options.drainSeconds ?? 60) * 1000;
  const allQueues = [...producers.agents, producers.rag];
  const pending = async () => {
    let sum = 0;
    for (const definition of allQueues) {
      const counts = await definition.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      sum += Object.values(counts).reduce((a, b) => a + b, 0);
    }
    return sum;
  };
  while (Date.now() < drainDeadline && (completedTotal() + agents.stats.failures.length < enqueued || (await pending()) > 0)) {
    progress('draining');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Let the notification workers deliver what the last jobs enqueued.
  const notificationsWanted = agents.stats.notificationsEnqueued + tenants.length;
  const deliveredTotal = () => [...notifier.delivered.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
  while (Date.now() < drainDeadline && deliveredTotal() + notifier.failures.length < notificationsWanted) {
    progress('delivering');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  progress('done', true);
  if (print) process.stdout.write(process.stdout.isTTY ? '\n\n' : '\n');

  const completed = completedTotal();
  const failures = agents.stats.failures.length + notifier.failures.length;
  const lost = enqueued - completed - agents.stats.failures.length + (notificationsWanted - deliveredTotal() - notifier.failures.length);

  const completedByQueueAndTenant: DemoResult['completedByQueueAndTenant'] = {};
  const rows: (string | number)[][] = [['queue', ...tenants, 'total']];
  for (const definition of allQueues) {
    const byTenant = agents.stats.completed.get(definition.name) ?? new Map<string, number>();
    completedByQueueAndTenant[definition.name] = Object.fromEntries(byTenant);
    const cells = tenants.map((t) => byTenant.get(t) ?? 0);
    rows.push([definition.name, ...cells, cells.reduce((a, b) => a + b, 0)]);
  }
  for (const [channel, byTenant] of notifier.delivered) {
    const cells = tenants.map((t) => byTenant.get(t) ?? 0);
    rows.push([`notifications__${channel}`, ...cells, cells.reduce((a, b) => a + b, 0)]);
  }

  const facts: (string | number)[][] = [
    ['', 'count'],
    ['jobs enqueued', enqueued],
    ['jobs completed', completed],
    ['notifications sent', deliveredTotal()],
    ['notifications deduplicated', agents.stats.notificationsDeduplicated + webDeduplicated],
    ['SEMrush calls delayed by the limiter (10 per 3 s per tenant)', agents.stats.rateLimited],
    ['jobs delayed because their activity was locked', agents.stats.lockWaits],
    ['webhook deliveries', webhookCalls],
    ['e-mails received by the local SMTP server', smtpSink.received.length],
    ['failures', failures],
  ];
  const verdict =
    lost === 0 && failures === 0
      ? `No job lost: ${enqueued} enqueued, ${completed} completed; ${notificationsWanted} notifications queued, ${deliveredTotal()} delivered.`
      : `LOST ${lost} job(s), ${failures} failure(s): ${enqueued} enqueued, ${completed} completed.`;
  const summary = `Jobs completed per queue and tenant\n\n${table(rows)}\n\n${table(facts)}\n\n${verdict}`;
  log(summary);

  if (dashboard) {
    await options.dashboard?.beforeClose?.(dashboard.url, dashboardToken);
    await dashboard.close();
  }
  await agents.close();
  await notifier.close();
  await Promise.all([...producers.agents, producers.rag].map((definition) => definition.close()));
  await semrushStub.close();
  smtp.close();
  await smtpSink.close();
  webhook.closeAllConnections();
  await new Promise((resolve) => webhook.close(resolve));
  const { closeNotificationQueues } = await import('@platform/notifications');
  await closeNotificationQueues();
  // Only this run's keys: queues, limiter, locks and dedup keys all carry the run's prefix.
  for (const pattern of [`${prefix}`, `*${prefix}`]) await deleteKeysByPrefix(redis, pattern);
  await closeConnection(redis);
  await closeConnection(workerConnection);
  await found.server?.stop();

  return {
    enqueued,
    completed,
    lost,
    failures,
    completedByQueueAndTenant,
    notificationsSent: deliveredTotal(),
    notificationsDeduplicated: agents.stats.notificationsDeduplicated + webDeduplicated,
    emailsReceived: smtpSink.received.length,
    emailsDelivered: [...(notifier.delivered.get('email')?.values() ?? [])].reduce((a, b) => a + b, 0),
    rateLimited: agents.stats.rateLimited,
    lockWaits: agents.stats.lockWaits,
    summary,
  };
}
