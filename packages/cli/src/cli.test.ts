import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { createRedisConnection, defineQueue, createWorker, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, findFreePort, startRedisServer, uniquePrefix, waitFor, type RedisServer } from '@platform/testing';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { main } from './main';
import { BIN, cleanEnv, runBin as run, type CliRun } from './test-support';

interface DoctorJson {
  ok: boolean;
  checks: Array<{ id: string; status: 'PASS' | 'WARN' | 'FAIL'; value: string; message: string; fix: string }>;
}

/** The non-PASS rows as id -> status, RTT left out (loopback latency on a busy machine varies). */
function problems(report: DoctorJson): Record<string, string> {
  return Object.fromEntries(report.checks.filter((c) => c.status !== 'PASS' && c.id !== 'rtt').map((c) => [c.id, c.status]));
}

function rttStatus(report: DoctorJson): string | undefined {
  return report.checks.find((c) => c.id === 'rtt')?.status;
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=@platform/cli...)`);
});

describe('the platform binary npm links', () => {
  it('is a committed shim (package.json bin) that runs the built CLI, from the repository root', async () => {
    const root = join(__dirname, '..', '..', '..');
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { bin: { platform: string }; files: string[] };
    const shim = join(__dirname, '..', pkg.bin.platform);
    // npm links bins at install time, before dist/ is built: the target must be a source file.
    expect(pkg.bin.platform).not.toMatch(/dist/);
    expect(pkg.files).toContain('bin');
    expect(existsSync(shim)).toBe(true);
    const result = await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [shim, '--help'], { cwd: root, env: cleanEnv({}) });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: platform/);
    expect(result.stdout).toMatch(/doctor/);
  });
});

// RTT is not what these tests check: on a loaded machine the median PING can pass 5 ms, so its
// thresholds are raised to keep the other rows' verdicts (and the exit codes) about their subject.
const CALM_RTT = ['--rtt-warn-ms', '1000', '--rtt-fail-ms', '2000'];

describe('platform doctor (built binary, private redis-servers)', () => {
  const servers: RedisServer[] = [];
  let allkeys: RedisServer;
  let noPersistence: RedisServer;
  let nearlyFull: RedisServer;
  let good: RedisServer;

  beforeAll(async () => {
    [allkeys, noPersistence, nearlyFull, good] = await Promise.all([
      startRedisServer({ args: ['--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] }),
      startRedisServer({ args: ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--tcp-keepalive', '0'] }),
      startRedisServer({ args: ['--appendonly', 'yes', '--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] }),
      startRedisServer({ args: ['--appendonly', 'yes', '--maxmemory', '256mb', '--maxmemory-policy', 'noeviction'] }),
    ]);
    servers.push(allkeys, noPersistence, nearlyFull, good);

    // Fill the 2 MB server to just under its limit (noeviction refuses writes beyond it). Checked
    // again from a new connection after the filler left: its buffers (and the AOF's) are freed
    // then, which on a busy machine dropped the server below the FAIL threshold once.
    const max = 2 * 1024 * 1024;
    const usedMemory = async (client: Redis) => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    let key = 0;
    for (let pass = 0; pass < 5; pass++) {
      const filler = new Redis(nearlyFull.url);
      for (let i = 0; i < 1000; i++) {
        const room = max * 0.995 - (await usedMemory(filler));
        if (room <= 0) break;
        const size = Math.max(64, Math.min(32 * 1024, Math.floor(room / 2)));
        const ok = await filler.set(`fill:${key++}`, 'x'.repeat(size)).then(() => true, () => false);
        if (!ok) break; // OOM: full enough
      }
      await filler.quit();
      const probe = new Redis(nearlyFull.url);
      const used = await usedMemory(probe);
      await probe.quit();
      if (used >= max * 0.985) break;
    }
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('allkeys-lru: FAILs maxmemory-policy with the reason and exits 1', async () => {
    const result = await run(['doctor', '--json', '--samples', '5', ...CALM_RTT], allkeys.url);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(problems(report)).toEqual({ 'maxmemory-policy': 'FAIL' });
    expect(rttStatus(report)).not.toBe('FAIL');
    const row = report.checks.find((c) => c.id === 'maxmemory-policy')!;
    expect(row.value).toBe('allkeys-lru');
    expect(row.message).toMatch(/evicted queue key is a lost job/);
    expect(row.fix).toMatch(/noeviction/);
    expect(report.ok).toBe(false);
  });

  it('allkeys-lru: the table shows each row with its status and fix', async () => {
    const result = await run(['doctor', '--samples', '5', ...CALM_RTT], allkeys.url);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^STATUS\s+CHECK\s+VALUE\s+DETAIL \/ FIX$/m);
    expect(result.stdout).toMatch(/^FAIL\s+maxmemory-policy\s+allkeys-lru\s+Redis may evict any key/m);
    expect(result.stdout).toMatch(/^\s+fix: CONFIG SET maxmemory-policy noeviction/m);
    expect(result.stdout).toMatch(/^PASS\s+persistence\s+AOF on/m);
    expect(result.stdout).toMatch(/^1 FAIL, \d WARN, \d PASS$/m);
  });

  it('no persistence (and tcp-keepalive 0, no maxmemory): exactly those WARNs; exit 0, or 1 with --strict', async () => {
    const result = await run(['doctor', '--json', '--samples', '5', ...CALM_RTT], noPersistence.url);
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(problems(report)).toEqual({ persistence: 'WARN', 'tcp-keepalive': 'WARN', memory: 'WARN' });
    expect(report.checks.find((c) => c.id === 'persistence')!.message).toMatch(/queue and dedup state die with a restart/);
    expect(report.checks.find((c) => c.id === 'memory')!.message).toMatch(/unlimited/);
    expect(rttStatus(report)).not.toBe('FAIL');
    expect(result.code).toBe(0);
    const strict = await run(['doctor', '--json', '--strict', '--samples', '3', ...CALM_RTT], noPersistence.url);
    expect(strict.code).toBe(1);
  });

  it('tiny maxmemory nearly full: FAILs memory and exits 1', async () => {
    const result = await run(['doctor', '--json', '--samples', '5', ...CALM_RTT], nearlyFull.url);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(problems(report)).toEqual({ memory: 'FAIL' });
    expect(report.checks.find((c) => c.id === 'memory')!.value).toMatch(/of 2\.00 MiB \((9[89]|1\d\d)\.\d %\)/);
  });

  it('a good server: everything PASSes and exits 0', async () => {
    const result = await run(['doctor', '--json', '--samples', '5', ...CALM_RTT], good.url);
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(problems(report)).toEqual({});
    expect(rttStatus(report)).toBe('PASS');
    expect(report.ok).toBe(true);
    expect(result.code).toBe(0);
  });

  it('prints a bad REDIS_URL or REDIS_DB as one line naming the variable, without the password or a stack', async () => {
    const badUrl = await run(['doctor'], 'redis://:hunter2-secret@127.0.0.1:notaport');
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr.trim()).toBe('platform: ConfigError: REDIS_URL: is not a valid URL; expected redis://host:port or rediss://host:port');
    const badDb = await run(['queues'], 'redis://:hunter2-secret@127.0.0.1:6399', { REDIS_DB: '42' });
    expect(badDb.code).toBe(2);
    expect(badDb.stderr.trim()).toBe('platform: ConfigError: REDIS_DB: must be a database index from 0 to 15');
    for (const r of [badUrl, badDb]) expect(r.stdout + r.stderr).not.toMatch(/hunter2|\n\s+at /);
  });
});

describe('platform queues / failed / metrics (built binary, test Redis)', () => {
  const url = process.env.REDIS_URL!;
  const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
  const workerConnection = createRedisConnection(loadRedisConfig(), { role: 'worker' });
  const prefixes: string[] = [];
  const schema = z.object({ n: z.number() });

  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
    await redis.quit();
    await workerConnection.quit();
  });

  function newPrefix(): string {
    const prefix = uniquePrefix('cli');
    prefixes.push(prefix);
    return prefix;
  }

  it('queues reports the counts and per-tenant waiting jobs that were enqueued', async () => {
    const prefix = newPrefix();
    const blog = defineQueue({ namespace: 'agent', name: 'blog-writer', schema, prefix, connection: redis });
    const email = defineQueue({ namespace: 'notifications', name: 'email', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    const plan: Array<[string, number]> = [['acme', 4], ['globex', 2], ['initech', 1]];
    for (const [tenantId, count] of plan) {
      for (let i = 0; i < count; i++) await blog.enqueue({ tenantId, n: i });
    }
    await blog.enqueue({ tenantId: 'globex', n: 9 }, { priority: 3 });
    await blog.enqueue({ tenantId: 'acme', n: 10 }, { delay: 3_600_000 });
    // notifications__email: one completed and one failed job.
    const worker = createWorker(email, async (job) => {
      if (job.data.n === 1) throw new Error('smtp down');
    }, { connection: workerConnection, handleSignals: false });
    await email.enqueueBulk([{ tenantId: 'acme', n: 0 }, { tenantId: 'acme', n: 1 }]);
    await waitFor(async () => (await email.queue.getCompletedCount()) === 1 && (await email.queue.getFailedCount()) === 1);
    await worker.close();

    const result = await run(['queues', '--json', '--prefix', prefix, '--warn', '5'], url);
    expect(result.code).toBe(0);
    const { queues } = JSON.parse(result.stdout) as { queues: Array<{ name: string; counts: Record<string, number>; topTenants: unknown; status: string }> };
    expect(queues.map((q) => q.name)).toEqual(['agent__blog-writer', 'notifications__email']);
    expect(queues[0]!.counts).toEqual({ waiting: 8, prioritized: 1, active: 0, delayed: 1, failed: 0, completed: 0 });
    expect(queues[0]!.topTenants).toEqual([
      { tenantId: 'acme', waiting: 4 },
      { tenantId: 'globex', waiting: 3 },
      { tenantId: 'initech', waiting: 1 },
    ]);
    expect(queues[0]!.status).toBe('WARN');
    expect(queues[1]!.counts).toEqual({ waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 1, completed: 1 });
    expect(queues[1]!.status).toBe('OK');

    const table = await run(['queues', '--prefix', prefix], url);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^agent__blog-writer\s+OK\s+8 \(1 prio\)\s+0\s+1\s+0\s+0\s+\d+ s\s+acme 4, globex 3, initech 1$/m);
    expect(table.stdout).toMatch(/^notifications__email\s+OK\s+0\s+0\s+0\s+1\s+1\s+-/m);
    expect(table.stdout).toMatch(/thresholds: WARN at 1000 waiting jobs, CRITICAL at 10000/);
    await blog.close();
    await email.close();
  });

  it('without --prefix, looks where defineQueue puts queues: <REDIS_KEY_PREFIX>:bull', async () => {
    const keyPrefix = newPrefix();
    const q = defineQueue({ namespace: 'agent', name: 'prefixed', schema, prefix: `${keyPrefix}:bull`, connection: redis });
    await q.enqueue({ tenantId: 'acme', n: 1 });
    const result = await run(['queues', '--json'], url, { REDIS_KEY_PREFIX: keyPrefix });
    expect(result.code).toBe(0);
    const { queues } = JSON.parse(result.stdout) as { queues: Array<{ name: string; prefix: string; counts: { waiting: number } }> };
    expect(queues.map((x) => [x.name, x.prefix, x.counts.waiting])).toEqual([['agent__prefixed', `${keyPrefix}:bull`, 1]]);
    await q.close();
  });

  it('failed list shows reasons; failed retry (twice, concurrently) replays each failed job once', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'agent', name: 'replay', schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
    const calls = new Map<string, number>();
    const worker = createWorker(q, async (job) => {
      const n = (calls.get(job.id!) ?? 0) + 1;
      calls.set(job.id!, n);
      if (n === 1) throw new Error(`upstream 502 for ${job.data.n}`);
    }, { connection: workerConnection, handleSignals: false, concurrency: 4 });
    const jobs = await q.enqueueBulk(Array.from({ length: 10 }, (_, i) => ({ tenantId: i < 4 ? 'acme' : 'globex', n: i })));
    await waitFor(async () => (await q.queue.getFailedCount()) === 10);

    const listed = await run(['failed', 'list', '--queue', q.name, '--prefix', prefix, '--tenant', 'acme', '--since', '1h', '--json'], url);
    expect(listed.code).toBe(0);
    const { jobs: acmeFailures } = JSON.parse(listed.stdout) as { jobs: Array<{ tenantId: string; failedReason: string }> };
    expect(acmeFailures).toHaveLength(4);
    expect(acmeFailures.every((j) => j.tenantId === 'acme' && /^upstream 502 for \d$/.test(j.failedReason))).toBe(true);

    const dryRun = await run(['failed', 'retry', '--queue', q.name, '--prefix', prefix], url);
    expect(dryRun.stdout).toMatch(/10 failed job\(s\) .* match; nothing replayed/);
    expect(await q.queue.getFailedCount()).toBe(10);

    const args = ['failed', 'retry', '--queue', q.name, '--prefix', prefix, '--yes', '--json'];
    const [first, second] = await Promise.all([run(args, url), run(args, url)]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const retried = [first, second].flatMap((r) => (JSON.parse(r.stdout) as { retried: string[] }).retried);
    expect(retried.sort()).toEqual(jobs.map((j) => j.id!).sort());
    expect(first.stderr + second.stderr).toMatch(/\[#+\] 100% \d+\/\d+/);

    await waitFor(async () => (await q.queue.getCompletedCount()) === 10);
    const third = await run(args, url);
    expect((JSON.parse(third.stdout) as { matched: number }).matched).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(jobs.map((j) => calls.get(j.id!))).toEqual(Array(10).fill(2));
    await worker.close();
    await q.close();
  });

  it('metrics --port serves Prometheus text with the queue series and /healthz', async () => {
    const prefix = newPrefix();
    const q = defineQueue({ namespace: 'rag', name: 'ingestion', schema, prefix, connection: redis });
    for (const tenantId of ['a', 'a', 'b', 'c']) await q.enqueue({ tenantId, n: 1 });
    const port = await findFreePort();
    const child: ChildProcess = spawn(process.execPath, [BIN, 'metrics', '--port', String(port), '--prefix', prefix, '--top', '1'], {
      env: cleanEnv({ REDIS_URL: url }),
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await waitFor(() => stderr.includes('serving'), 15_000);
      const fetchText = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          get(`http://127.0.0.1:${port}${path}`, { agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          }).on('error', reject);
        });
      const metrics = await fetchText('/metrics');
      expect(metrics.status).toBe(200);
      const lines = metrics.body.split('\n').filter((l) => l !== '');
      // Every line is a HELP/TYPE comment or a `name{labels} value` sample.
      for (const line of lines) {
        expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$/);
      }
      expect(lines).toContain('# TYPE platform_queue_jobs gauge');
      expect(lines).toContain('# TYPE platform_queue_tenant_waiting_jobs gauge');
      expect(lines).toContain('# TYPE platform_jobs_completed_total counter');
      expect(lines).toContain('# TYPE platform_job_run_seconds histogram');
      expect(lines).toContain('platform_jobs_enqueued_total{queue="rag__ingestion",tenant="a"} 2');
      expect(lines).toContain('platform_jobs_enqueued_total{queue="rag__ingestion",tenant="other"} 2');
      expect(lines).toContain('platform_queue_jobs{queue="rag__ingestion",state="waiting"} 4');
      expect(lines).toContain('platform_queue_tenant_waiting_jobs{queue="rag__ingestion",tenant="a"} 2');
      expect(lines).toContain('platform_queue_tenant_waiting_jobs{queue="rag__ingestion",tenant="other"} 2');
      expect(lines.some((l) => l.includes('tenant="b"'))).toBe(false);
      const health = await fetchText('/healthz');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', redis: 'up' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await q.close();
    }
    expect(child.exitCode).toBe(0);
  });

  it('main() runs in-process and reports usage errors with exit code 2', async () => {
    let err = '';
    const code = await main(['failed', 'list', '--queue', 'a__b', '--since', 'yesterday'], {
      env: { REDIS_URL: url },
      stdout: () => undefined,
      stderr: (t) => (err += t),
    });
    expect(code).toBe(2);
    expect(err).toMatch(/--since: "yesterday" is neither an ISO date/);
  });
});
