import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createRedisConnection, createWorker, defineQueue, loadRedisConfig, pauseTenant, setTenantLimits } from '@platform/queue';
import { deleteKeysByPrefix, findFreePort, uniquePrefix, waitFor } from '@platform/testing';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { BIN, runBin, type CliRun } from './test-support';
import { closeNotificationQueues, createNotificationWorker, getProviderHealth, notifyOnce, NotificationSendError } from '@platform/notifications';

const url = process.env.REDIS_URL!;
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefixes: string[] = [];
const schema = z.object({ n: z.number() });

function run(args: string[], redisUrl = url, extraEnv: Record<string, string> = {}): Promise<CliRun> {
  return runBin(args, redisUrl, extraEnv);
}

function newPrefix(): string {
  const prefix = uniquePrefix('clop');
  prefixes.push(prefix);
  return prefix;
}

const STACK = /\n\s+at /;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=@platform/cli...)`);
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await workerConnection.quit();
});

describe('platform CLI polish (built binary)', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('with --json, a usage error is a JSON document (exit 2)', async () => {
    const result = await run(['queues', '--json', '--bogus']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'USAGE', message: "unknown option '--bogus'" } });
    const badSort = await run(['tenants', 'list', '--sort', 'size', '--json']);
    expect(badSort.code).toBe(2);
    expect(JSON.parse(badSort.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--sort') });
  });

  it('an unknown queue exits 2 and lists the known ones (text and JSON)', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'agent', name: 'known', schema, prefix, connection: redis });
    await q.enqueue({ tenantId: 'acme', n: 1 });
    const text = await run(['failed', 'list', '--queue', 'agent__typo', '--prefix', prefix]);
    expect(text.code).toBe(2);
    expect(text.stderr.trim()).toBe(`platform: UnknownQueueError: --queue: no queue "agent__typo" under prefix "${prefix}"; known queues: agent__known`);
    const json = await run(['tenants', 'list', '--queue', 'agent__typo', '--prefix', prefix, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'UNKNOWN_QUEUE', queue: 'agent__typo', known: ['agent__known'] });
    expect((await run(['failed', 'retry', '--queue', 'nope', '--prefix', prefix])).code).toBe(2);
    await q.close();
  });

  it('queues --strict exits 1 when a queue is WARN or CRITICAL, 0 when all are OK', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'agent', name: 'deep', schema, prefix, connection: redis });
    await q.enqueueBulk([...Array(3)].map((_, n) => ({ tenantId: 'acme', n })));
    expect((await run(['queues', '--prefix', prefix, '--strict'])).code).toBe(0);
    const warn = await run(['queues', '--prefix', prefix, '--strict', '--warn', '3']);
    expect(warn.code).toBe(1);
    expect(warn.stdout).toMatch(/^agent__deep\s+WARN/m);
    expect((await run(['queues', '--prefix', prefix, '--strict', '--warn', '2', '--critical', '3', '--json'])).code).toBe(1);
    // Without --strict, WARN is reported but the exit code stays 0.
    expect((await run(['queues', '--prefix', prefix, '--warn', '3'])).code).toBe(0);
    await q.close();
  });

  it("queues shows each notification provider's circuit breaker; --strict fails while one is open", async () => {
    const keyPrefix = newPrefix();
    const env = { REDIS_KEY_PREFIX: keyPrefix };
    const options = { connection: redis, keyPrefix, retry: { attempts: 5, delayMs: 50, maxDelayMs: 100 } };
    expect((await run(['queues', '--strict'], url, env)).code).toBe(0);
    // A provider that answers 503: after 2 failures in a row its breaker opens (for 10 minutes).
    const worker = createNotificationWorker('sms', {
      provider: 'twilio',
      async send() {
        throw new NotificationSendError('twilio answered 503', { retryable: true, status: 503 });
      },
    }, { connection: workerConnection, keyPrefix, handleSignals: false, circuitBreaker: { failureThreshold: 2, openMs: 600_000 } });
    for (let i = 0; i < 3; i++) {
      await notifyOnce({ tenantId: 'acme', type: 'alert', dedupeKey: `a-${i}`, channel: 'sms', payload: { to: '+4915112345678', body: `Alert ${i}` } }, options);
    }
    await waitFor(async () => (await getProviderHealth('sms', 'twilio', options)).state === 'open', 20_000);
    await worker.close();
    await closeNotificationQueues();

    const table = await run(['queues', '--strict'], url, env);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^notification providers \(circuit breakers\):$/m);
    expect(table.stdout).toMatch(/^ {2}sms\/twilio {2}OPEN {2}trips 1, probes 0, \d failure\(s\) in a row, next probe in \d+ min; last error: .*503/m);
    const json = JSON.parse((await run(['queues', '--json'], url, env)).stdout) as { queues: Array<{ name: string }>; providers: Array<{ channel: string; provider: string; state: string; trips: number }> };
    expect(json.providers.map((p) => [p.channel, p.provider, p.state, p.trips])).toEqual([['sms', 'twilio', 'open', 1]]);
    expect(json.queues.map((q) => q.name)).toContain('notifications__sms');
  });

  it('Redis down: one line naming the cause, no stack traces, exit 1 (and JSON with --json)', async () => {
    const port = await findFreePort();
    const down = `redis://127.0.0.1:${port}`;
    for (const args of [['failed', 'list', '--queue', 'agent__x'], ['queues'], ['tenants', 'list'], ['tenants', 'show', 'acme']]) {
      const result = await run(args, down);
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).not.toMatch(STACK);
      expect(result.stderr.trim()).toBe(`platform: cannot reach Redis at ${down}: connect ECONNREFUSED 127.0.0.1:${port}`);
    }
    const json = await run(['failed', 'list', '--queue', 'agent__x', '--json'], down);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'REDIS_UNAVAILABLE', message: `cannot reach Redis at ${down}: connect ECONNREFUSED 127.0.0.1:${port}` } });
  });

  it('a port that is not Redis is reported as such', async () => {
    const garbage: Server = createServer((socket) => {
      socket.on('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const port = (garbage.address() as { port: number }).port;
    try {
      const result = await run(['failed', 'list', '--queue', 'agent__x'], `redis://127.0.0.1:${port}`);
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).not.toMatch(STACK);
      expect(result.stderr.trim()).toMatch(new RegExp(`^platform: the server at redis://127\\.0\\.0\\.1:${port} is not Redis: it answered with something other than the Redis protocol \\(Unknown RESP type 72 "H"\\)`));
      const json = await run(['queues', '--json'], `redis://127.0.0.1:${port}`);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).error.code).toBe('NOT_REDIS');
    } finally {
      garbage.close();
    }
  });
});

describe('platform tenants list / show (built binary)', () => {
  it('shows tenant pauses, limit overrides and the audit trail of the tenant controls', async () => {
    const prefix = newPrefix();
    const fair = defineQueue({ namespace: 'agent', name: 'fair', schema, prefix, connection: redis, fairness: 'per-tenant' });
    await fair.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'globex', n: 2 }]);
    await pauseTenant(fair, 'acme', { actor: 'ops@test' });
    await setTenantLimits(fair, 'globex', { maxActive: 1 }, { forMs: 3_600_000, actor: 'ops@test' });
    await pauseTenant(fair, 'initech', { actor: 'ops@test' });

    const listed = JSON.parse((await run(['tenants', 'list', '--prefix', prefix, '--json'])).stdout) as { tenants: Array<{ tenantId: string; paused: boolean; overrides: unknown; backlog: number }> };
    const byTenant = Object.fromEntries(listed.tenants.map((t) => [t.tenantId, t]));
    expect(byTenant.acme).toMatchObject({ paused: true, overrides: null, backlog: 1 });
    expect(byTenant.globex).toMatchObject({ paused: false, overrides: { maxActive: 1 }, backlog: 1 });
    // A paused tenant without jobs is listed too: operators look for what they paused.
    expect(byTenant.initech).toMatchObject({ paused: true, backlog: 0 });
    const table = await run(['tenants', 'list', '--prefix', prefix]);
    expect(table.stdout).toMatch(/^agent__fair\s+globex\s+1\s+0\s+-\s+0\s+0\s+-\s+maxActive 1 \(until \d\d:\d\d UTC\)$/m);
    expect(table.stdout).toMatch(/^agent__fair\s+acme\s+1\s+0\s+-\s+0\s+0\s+tenant\s+-$/m);

    const show = await run(['tenants', 'show', 'globex', '--prefix', prefix]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^audit \(newest first\):$/m);
    expect(show.stdout).toMatch(/^ {2}\S+Z {2}agent__fair {2}set-limits {2}by ops@test: none -> maxActive 1 \(until \d\d:\d\d UTC\)$/m);
    const json = JSON.parse((await run(['tenants', 'show', 'acme', '--prefix', prefix, '--json'])).stdout) as { audit: Array<{ action: string; by: string; tenantId: string }> };
    expect(json.audit.map((a) => [a.action, a.by, a.tenantId])).toEqual([['pause', 'ops@test', 'acme']]);
    await fair.close();
  });


  it('lists backlog, active, p95 wait and failures per tenant from what workers recorded; show narrows to one tenant', async () => {
    const prefix = newPrefix();
    const work = defineQueue({ namespace: 'agent', name: 'work', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    const backlog = defineQueue({ namespace: 'rag', name: 'ingestion', schema, prefix, connection: redis });
    const worker = createWorker(work, async (job) => {
      if (job.data.n < 0) throw new Error('boom');
    }, { connection: workerConnection, handleSignals: false });
    await work.enqueueBulk([{ tenantId: 'acme', n: 1 }, { tenantId: 'acme', n: -1 }, { tenantId: 'globex', n: -1 }, { tenantId: 'globex', n: -2 }, { tenantId: 'globex', n: 3 }]);
    await backlog.enqueueBulk([...Array(4)].map((_, n) => ({ tenantId: 'initech', n })));
    await waitFor(async () => (await work.queue.getFailedCount()) === 3 && (await work.queue.getCompletedCount()) === 2);
    await worker.close();
    await backlog.queue.pause();
    // A plain BullMQ queue beside them shows up in `platform queues` too.
    const plain = new Queue('legacy', { connection: redis, prefix });
    await plain.add('x', { tenantId: 'acme' });

    type Row = { queue: string; tenantId: string; backlog: number; failedLastHour: number; waitP95Seconds: number | null; paused: boolean };
    let rows: Row[] = [];
    await waitFor(async () => {
      const result = await run(['tenants', 'list', '--prefix', prefix, '--sort', 'failed', '--json']);
      rows = (JSON.parse(result.stdout) as { tenants: Row[] }).tenants;
      return rows.filter((r) => r.queue === 'agent__work').reduce((a, r) => a + r.failedLastHour, 0) === 3;
    });
    expect(rows[0]).toMatchObject({ queue: 'agent__work', tenantId: 'globex', failedLastHour: 2, paused: false });
    expect(rows[0]!.waitP95Seconds).toEqual(expect.any(Number));
    expect(rows.find((r) => r.queue === 'rag__ingestion')).toMatchObject({ tenantId: 'initech', backlog: 4, paused: true });
    expect(rows.find((r) => r.queue === 'legacy')).toMatchObject({ tenantId: 'acme', backlog: 1 });

    const table = await run(['tenants', 'list', '--prefix', prefix]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^QUEUE\s+TENANT\s+BACKLOG\s+ACTIVE\s+P95 WAIT\s+FAILED 1H\s+DONE 1H\s+PAUSED\s+OVERRIDES$/m);
    // Sorted by backlog: initech's 4 waiting jobs first, on its paused queue.
    expect(table.stdout.split('\n').find((l) => l.startsWith('rag__') || l.startsWith('agent__') || l.startsWith('legacy'))).toMatch(/^rag__ingestion\s+initech\s+4\s+0\s+-\s+0\s+0\s+queue\s+-$/);

    const one = await run(['tenants', 'list', '--prefix', prefix, '--queue', 'agent__work', '--json']);
    expect((JSON.parse(one.stdout) as { tenants: Row[] }).tenants.map((r) => r.queue)).toEqual(['agent__work', 'agent__work']);

    const show = await run(['tenants', 'show', 'globex', '--prefix', prefix]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^agent__work\s+0\s+0\s+\S+ s\s+3\s+1\s+2\s+2\s+-\s+-\s+-$/m);
    expect(show.stdout).not.toContain('acme');
    const showJson = JSON.parse((await run(['tenants', 'show', 'globex', '--prefix', prefix, '--json'])).stdout) as { tenantId: string; queues: Row[] };
    expect(showJson.tenantId).toBe('globex');
    expect(showJson.queues.map((r) => r.queue)).toEqual(['agent__work']);
    expect((await run(['tenants', 'show', 'bad:id', '--prefix', prefix])).code).toBe(2);

    const queues = await run(['queues', '--prefix', prefix, '--json']);
    const listed = (JSON.parse(queues.stdout) as { queues: Array<{ name: string; kind: string; paused: boolean }> }).queues;
    expect(listed.map((q) => [q.name, q.kind, q.paused])).toEqual([
      ['agent__work', 'platform', false],
      ['rag__ingestion', 'platform', true],
      ['legacy', 'bullmq', false],
    ]);
    const queuesTable = await run(['queues', '--prefix', prefix]);
    expect(queuesTable.stdout).toMatch(/^rag__ingestion\s+OK PAUSED\s+4/m);
    expect(queuesTable.stdout).toMatch(/^legacy \(bullmq\)\s+OK\s+1/m);
    await plain.close();
    await work.close();
    await backlog.close();
  });
});
