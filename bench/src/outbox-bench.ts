import { randomUUID } from 'node:crypto';
import { enqueueInTransaction, migrateOutbox, startOutboxRelay } from '@platform/outbox';
import { defineQueue, type QueueDefinition } from '@platform/queue';
import { postgresAvailable, startPostgresServer, type PostgresServer } from '@platform/testing';
import { QueueEvents } from 'bullmq';
import { Pool } from 'pg';
import { z } from 'zod';
import type { BenchContext } from './context';
import { percentile, throughput } from './measure';
import { alternate } from './results';

const SECTION = '7. Outbox (PostgreSQL)';

/** Resolves when the job with a given id reaches `waiting`, from the queue's event stream. */
function waitingWatcher(events: QueueEvents) {
  const waiters = new Map<string, () => void>();
  events.on('waiting', ({ jobId }) => {
    const done = waiters.get(jobId);
    if (done) {
      waiters.delete(jobId);
      done();
    }
  });
  return (jobId: string) => new Promise<void>((resolve) => waiters.set(jobId, resolve));
}

/**
 * Section 7: the outbox against a direct `enqueue`, on one Redis and one PostgreSQL (BENCH_DATABASE_URL,
 * else a private server). Latency: from COMMIT (outbox) or from the enqueue call (direct) until the
 * job is `waiting`, one at a time, the relay woken by LISTEN/NOTIFY. Throughput: committed rows moved
 * per second by one relay, against `enqueue` with 50 calls in flight.
 */
export async function runOutboxBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log } = ctx;
  const external = process.env.BENCH_DATABASE_URL;
  if (!external && !postgresAvailable()) {
    results.markUnavailable(SECTION, 'no PostgreSQL: set BENCH_DATABASE_URL or install Debian\'s "postgresql" (initdb, pg_ctl)');
    return;
  }
  const latency = 'commit (outbox) or enqueue call (direct) to job waiting, one at a time';
  const rate = 'jobs into BullMQ per second';
  results.figure({ id: 'outbox.p50.outbox', section: SECTION, benchmark: `${latency}, p50`, subject: 'outbox + relay (LISTEN/NOTIFY)', unit: 'ms', better: 'lower' });
  results.figure({ id: 'outbox.p50.direct', section: SECTION, benchmark: `${latency}, p50`, subject: 'direct enqueue', unit: 'ms', better: 'lower' });
  results.figure({ id: 'outbox.p99.outbox', section: SECTION, benchmark: `${latency}, p99`, subject: 'outbox + relay (LISTEN/NOTIFY)', unit: 'ms', better: 'lower' });
  results.figure({ id: 'outbox.p99.direct', section: SECTION, benchmark: `${latency}, p99`, subject: 'direct enqueue', unit: 'ms', better: 'lower' });
  results.figure({ id: 'outbox.tput.relay', section: SECTION, benchmark: rate, subject: 'relay, committed rows (batches of 500)', unit: 'jobs/s', better: 'higher' });
  results.figure({ id: 'outbox.tput.direct', section: SECTION, benchmark: rate, subject: 'direct enqueue, 50 in flight', unit: 'jobs/s', better: 'higher' });
  results.compare({ label: 'commit-to-waiting p50: outbox / direct enqueue', platform: 'outbox.p50.outbox', anchor: 'outbox.p50.direct' });
  results.compare({ label: 'commit-to-waiting p99: outbox / direct enqueue', platform: 'outbox.p99.outbox', anchor: 'outbox.p99.direct' });
  results.compare({ label: 'throughput: relay / direct enqueue', platform: 'outbox.tput.relay', anchor: 'outbox.tput.direct' });

  let server: PostgresServer | undefined;
  if (!external) server = await startPostgresServer();
  const pool = new Pool({ connectionString: external ?? server!.url, max: 10 });
  pool.on('error', () => undefined);
  const schema = `bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const connection = ctx.platformClient('producer');
  const definitions: QueueDefinition[] = [];
  const define = (label: string) => {
    const definition = defineQueue({ namespace: 'bench', name: 'outbox', schema: z.object({ n: z.number() }), prefix: `${ctx.runId}-${label}`, connection });
    definitions.push(definition);
    return definition;
  };
  const events: QueueEvents[] = [];
  try {
    await migrateOutbox(pool, { schema });
    const latencyCount = ctx.size(300, 20);
    const rows = ctx.size(5000, 200);

    // Latency: one relay listening; each iteration is one transaction with one row.
    const outboxQueue = define('ol');
    const directQueue = define('dl');
    const watch = async (definition: QueueDefinition) => {
      const queueEvents = new QueueEvents(definition.name, { connection: ctx.plainClient({ maxRetriesPerRequest: null }), prefix: `${ctx.runId}-${definition === outboxQueue ? 'ol' : 'dl'}` });
      queueEvents.on('error', () => undefined);
      events.push(queueEvents);
      await queueEvents.waitUntilReady();
      return waitingWatcher(queueEvents);
    };
    const untilOutboxWaiting = await watch(outboxQueue);
    const untilDirectWaiting = await watch(directQueue);
    const relay = startOutboxRelay({ pool, schema, queues: [outboxQueue], notifications: false, keepMovedMs: 0 });
    const client = await pool.connect();
    try {
      await alternate(ctx.rounds, [
        {
          name: 'outbox latency',
          run: async () => {
            const samples: number[] = [];
            for (let n = 0; n < latencyCount; n++) {
              await client.query('BEGIN');
              const { jobId } = await enqueueInTransaction(client, outboxQueue, { tenantId: 'bench', n }, { outboxSchema: schema });
              const waiting = untilOutboxWaiting(jobId);
              const start = performance.now();
              await client.query('COMMIT');
              await waiting;
              samples.push(performance.now() - start);
            }
            results.add('outbox.p50.outbox', percentile(samples, 50));
            results.add('outbox.p99.outbox', percentile(samples, 99));
          },
        },
        {
          name: 'direct latency',
          run: async () => {
            const samples: number[] = [];
            for (let n = 0; n < latencyCount; n++) {
              const jobId = randomUUID();
              const waiting = untilDirectWaiting(jobId);
              const start = performance.now();
              await directQueue.enqueue({ tenantId: 'bench', n }, { jobId });
              await waiting;
              samples.push(performance.now() - start);
            }
            results.add('outbox.p50.direct', percentile(samples, 50));
            results.add('outbox.p99.direct', percentile(samples, 99));
          },
        },
      ], log);
    } finally {
      client.release();
      await relay.stop();
    }

    // Throughput: rows committed first (not timed), then one relay moves them all.
    const relayQueue = define('ot');
    const directTput = define('dt');
    await alternate(ctx.rounds, [
      {
        name: 'relay throughput',
        run: async () => {
          for (let from = 0; from < rows; from += 500) {
            const c = await pool.connect();
            try {
              await c.query('BEGIN');
              for (let n = from; n < Math.min(rows, from + 500); n++) {
                await enqueueInTransaction(c, relayQueue, { tenantId: 'bench', n }, { outboxSchema: schema });
              }
              await c.query('COMMIT');
            } finally {
              c.release();
            }
          }
          const start = performance.now();
          const mover = startOutboxRelay({ pool, schema, queues: [relayQueue], notifications: false, batchSize: 500, keepMovedMs: 0, listen: false });
          // drain() follows the relay's own first pass; stats() counts both.
          while (mover.stats().moved < rows) await mover.drain();
          results.add('outbox.tput.relay', rows / ((performance.now() - start) / 1000));
          await mover.stop();
          await relayQueue.queue.obliterate({ force: true });
        },
      },
      {
        name: 'direct throughput',
        run: async () => {
          results.add('outbox.tput.direct', await throughput(rows, 50, (n) => directTput.enqueue({ tenantId: 'bench', n })));
          await directTput.queue.obliterate({ force: true });
        },
      },
    ], log);

    const p50 = results.summary('outbox.p50.outbox')?.median;
    results.notes.push(
      `Outbox: PostgreSQL ${external ? 'from BENCH_DATABASE_URL' : 'private (initdb + pg_ctl, fsync off)'}; latency over ${latencyCount} ` +
        `one-row transactions per round (relay woken by LISTEN/NOTIFY, poll 1 s as fallback), measured until BullMQ's 'waiting' ` +
        `event; throughput over ${rows} committed rows per round. Goal: outbox p50 < 20 ms` +
        (p50 !== undefined ? ` (this run: ${p50.toFixed(1)} ms).` : '.'),
    );
  } finally {
    await Promise.all(events.map((e) => e.close()));
    await Promise.all(definitions.map((d) => d.close()));
    if (external) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
    if (server) await server.stop();
  }
}
