import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createWorker, defineQueue } from '@platform/queue';
import { uniquePrefix, waitFor } from '@platform/testing';
import { UnrecoverableError } from 'bullmq';
import type { RedisClient } from '@platform/redis';
import { z } from 'zod';
import type { TenantControls, TenantControlState, TenantLimits } from './controls';

/** Queues of the seeded fixture (full names). */
export const FIXTURE_QUEUES = ['agent__blog-writer', 'notifications__email', 'rag__ingestion'] as const;

/** What {@link seedThreeTenants} put in Redis, to compare the pages against. */
export interface SeededFixture {
  /** BullMQ prefix of the fixture's queues (unique per call). */
  prefix: string;
  /** Prefix of every key the fixture wrote (delete with `deleteKeysByPrefix(redis, keyRoot + ':')`). */
  keyRoot: string;
  /** Waiting jobs per queue and tenant. */
  waiting: Record<string, Record<string, number>>;
  /** Failed job ids per queue and tenant. */
  failed: Record<string, Record<string, string[]>>;
  /** Completed jobs per queue and tenant. */
  completed: Record<string, Record<string, number>>;
  delayed: Record<string, Record<string, number>>;
}

const schema = z.object({ n: z.number(), fail: z.boolean().default(false), secret: z.string().optional() });

/**
 * Seeds three tenants (acme, globex, initech) over three queues under a unique prefix: waiting,
 * delayed, completed and failed jobs in known numbers (a worker runs and fails some of them), and
 * a rate limiter key of acme.
 */
export async function seedThreeTenants(redis: RedisClient, workerRedis: RedisClient): Promise<SeededFixture> {
  const keyRoot = uniquePrefix('dash');
  const prefix = `${keyRoot}:bull`;
  const [writer, email, rag] = FIXTURE_QUEUES.map((full) => {
    const [namespace, name] = full.split('__') as [string, string];
    return defineQueue({ namespace, name, schema, prefix, connection: redis, defaultJobOptions: { attempts: 1 } });
  }) as [ReturnType<typeof defineQueue<typeof schema>>, ReturnType<typeof defineQueue<typeof schema>>, ReturnType<typeof defineQueue<typeof schema>>];

  // Finished jobs first: a worker completes or fails them, then stops.
  const finishing: Array<[typeof rag, string, boolean]> = [
    [rag, 'acme', true],
    [rag, 'acme', true],
    [rag, 'acme', false],
    [rag, 'initech', false],
    [email, 'globex', true],
    [email, 'globex', false],
    [email, 'globex', false],
  ];
  const failed: SeededFixture['failed'] = {};
  const completed: SeededFixture['completed'] = {};
  for (const definition of [rag, email]) {
    const mine = finishing.filter(([d]) => d === definition);
    const jobs = [];
    for (const [i, [, tenantId, fail]] of mine.entries()) jobs.push({ job: await definition.enqueue({ tenantId, n: i, fail, secret: 'sk-live-DO-NOT-SHOW' }, { jobId: `job-${tenantId}-${definition.name}-${i}` }), tenantId, fail });
    const worker = createWorker(
      definition,
      async (job) => {
        if (job.data.fail) throw new UnrecoverableError(`provider refused document ${job.data.n}: quota exceeded`);
        return { ok: true };
      },
      { connection: workerRedis, concurrency: 4 },
    );
    await waitFor(async () => {
      const counts = await definition.queue.getJobCounts('completed', 'failed');
      return (counts.completed ?? 0) + (counts.failed ?? 0) === mine.length;
    }, 20_000);
    await worker.close();
    for (const { job, tenantId, fail } of jobs) {
      if (fail) ((failed[definition.name] ??= {})[tenantId] ??= []).push(String(job.id));
      else (completed[definition.name] ??= {})[tenantId] = ((completed[definition.name] ??= {})[tenantId] ?? 0) + 1;
    }
  }

  // Then the backlog nobody works on.
  const waiting: SeededFixture['waiting'] = {
    'agent__blog-writer': { acme: 6, globex: 3, initech: 1 },
    rag__ingestion: { globex: 2 },
  };
  for (const [queue, tenants] of Object.entries(waiting)) {
    const definition = queue === 'rag__ingestion' ? rag : writer;
    const payloads = Object.entries(tenants).flatMap(([tenantId, n]) => Array.from({ length: n }, (_, i) => ({ tenantId, n: i })));
    await definition.enqueueBulk(payloads);
  }
  const delayed: SeededFixture['delayed'] = { 'agent__blog-writer': { initech: 2 } };
  for (let i = 0; i < 2; i++) await writer.enqueue({ tenantId: 'initech', n: 100 + i }, { delay: 3_600_000 });

  // A fixed-window limiter key of acme, as @platform/ratelimit writes it.
  await redis.set(`${keyRoot}:ratelimit:acme:openai`, '7', 'PX', 60_000);
  // An open circuit breaker of the e-mail provider, as @platform/notifications' workers leave it.
  await redis.hset(`${keyRoot}:notify-circuit:email:smtp`, {
    state: 'open',
    failures: '5',
    trips: '1',
    probes: '0',
    openUntil: String(Date.now() + 600_000),
    lastError: 'smtp 421 deferring mail to bob@globex.example',
  });

  await Promise.all([writer, email, rag].map((d) => d.close()));
  return { prefix, keyRoot, waiting, failed, completed, delayed };
}

/**
 * A real {@link TenantControls} for tests: a pause is a Redis key `<root>:paused:<tenant>` (with
 * the queue list as its value, and a TTL for a timed pause), limits a hash `<root>:limits:<tenant>`.
 */
export function redisKeyControls(redis: RedisClient, root: string): TenantControls {
  const pausedKey = (tenantId: string) => `${root}:paused:${tenantId}`;
  const limitsKey = (tenantId: string) => `${root}:limits:${tenantId}`;
  const state = async (tenantId: string): Promise<TenantControlState> => {
    const [paused, pttl, limits] = await Promise.all([redis.get(pausedKey(tenantId)), redis.pttl(pausedKey(tenantId)), redis.hgetall(limitsKey(tenantId))]);
    const result: TenantControlState = { tenantId, paused: paused !== null };
    if (paused) result.pausedQueues = paused === '*' ? [] : paused.split(',');
    if (paused !== null && pttl > 0) result.pausedUntil = Date.now() + pttl;
    if (Object.keys(limits).length > 0) result.overrides = Object.fromEntries(Object.entries(limits).map(([k, v]) => [k, Number(v)]));
    return result;
  };
  return {
    async pauseTenant(tenantId, options) {
      if (options.forMs) await redis.set(pausedKey(tenantId), options.queue ?? '*', 'PX', options.forMs);
      else await redis.set(pausedKey(tenantId), options.queue ?? '*');
    },
    async resumeTenant(tenantId) {
      await redis.del(pausedKey(tenantId));
    },
    getTenantState: state,
    async listControlledTenants() {
      const tenants = new Set<string>();
      for (const kind of ['paused', 'limits']) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${root}:${kind}:*`, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) tenants.add(key.slice(`${root}:${kind}:`.length));
        } while (cursor !== '0');
      }
      return Promise.all([...tenants].sort().map(state));
    },
    async setTenantLimits(tenantId, limits: TenantLimits, options) {
      const fields = Object.entries(limits).flatMap(([k, v]) => [k, String(v)]);
      await redis.hset(limitsKey(tenantId), ...fields);
      if (options.forMs) await redis.pexpire(limitsKey(tenantId), options.forMs);
    },
    async resetTenantLimits(tenantId) {
      await redis.del(limitsKey(tenantId));
    },
  };
}

/** A reply of {@link httpCall}. */
export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to `base + path` (no keep-alive agent), resolving with the whole reply. */
export function httpCall(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
