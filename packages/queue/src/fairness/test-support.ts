// Test support (not exported from index.ts): worker processes forked from a test fixture, for the
// multi-process fairness and tenant-control tests.
import { fork, type ChildProcess } from 'node:child_process';
import { basename, join } from 'node:path';
import { closeSharedConnections, createRedisConnection, loadRedisConfig, type RedisClient } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { z } from 'zod';
import { defineQueue, type QueueDefinition } from '../define-queue';
import { defineConcurrencyPool, type ConcurrencyPool, type ConcurrencyPoolOptions } from '../pools/pool';
import type { FairnessOptions, TenantRate } from './options';

/** Forked fixture processes: each started one signals `ready` with a message; all stopped by PID. */
export class WorkerProcesses {
  /** The processes still running. */
  readonly running = new Set<ChildProcess>();

  constructor(private readonly fixture: string) {}

  /** Forks `count` processes with `args` and resolves once each has said it is ready. */
  start(count: number, args: readonly string[]): Promise<ChildProcess[]> {
    return Promise.all(
      Array.from({ length: count }, async () => {
        const child = fork(this.fixture, [...args], { env: { ...process.env }, stdio: 'ignore' });
        this.running.add(child);
        child.once('exit', () => this.running.delete(child));
        await new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('exit', (code) => reject(new Error(`${basename(this.fixture)} exited with ${code} before it was ready`)));
        });
        return child;
      }),
    );
  }

  /** SIGTERM to every running process (a graceful close); resolves when all have exited. */
  stop(): Promise<void> {
    return Promise.all(
      [...this.running].map((child) => new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })),
    ).then(() => undefined);
  }

  /** SIGKILL to every process still running (for `afterAll`, after a failed test). */
  killAll(): void {
    for (const child of this.running) if (child.pid) process.kill(child.pid, 'SIGKILL');
  }
}

/** One line of a worker process's run log (`<prefix>:log`): a job's start (`s`) or end (`e`). */
export interface LogEntry {
  e: 's' | 'e';
  run: string;
  id: string;
  /** Queue name (without namespace). */
  q: string;
  t: string;
  pid: number;
  at: number;
}

/** A job run from the log: started `from`, ended `to` (ms since the epoch). */
export interface Run {
  id: string;
  q: string;
  t: string;
  pid: number;
  from: number;
  to: number;
}

/** What test-fixtures/worker-process.js runs: workers for `queues` (namespace `agent`, schema `{ n }`). */
export interface WorkerFixtureConfig {
  queues: Array<{ name: string; fair: boolean }>;
  concurrency: number;
  jobMs: number;
  fairness?: FairnessOptions;
  /** Each fair queue's `tenantRate`, as a table. */
  rateTenants?: Record<string, TenantRate>;
  pool?: ConcurrencyPoolOptions;
  lockDuration?: number;
  stalledInterval?: number;
}

const schema = z.object({ n: z.number() });

/** One fixture set-up: the queues (in this process, for enqueueing and inspecting) and their worker processes. */
export interface WorkerFixture {
  prefix: string;
  pool: ConcurrencyPool | undefined;
  definitions: Map<string, QueueDefinition<typeof schema>>;
  /** Forks `processes` worker processes of the config; resolves once each is ready. */
  start(processes: number): Promise<ChildProcess[]>;
  readLog(): Promise<LogEntry[]>;
  /** Runs from the log; a run without an end lasts until `openUntil(entry)` (Infinity: still running). */
  runs(openUntil?: (start: LogEntry) => number): Promise<Run[]>;
  /** SIGTERM to the worker processes, then closes the queues. */
  stop(): Promise<void>;
  enqueue(queue: string, tenantId: string, count: number, from?: number): Promise<Array<{ id?: string | undefined }>>;
  completed(queue: string): Promise<number>;
}

/**
 * Multi-process test support: a producer connection, worker processes of
 * test-fixtures/worker-process.js (against the built package: `npm test` builds first), and an
 * `afterAll` that kills what still runs and deletes every key the tests wrote.
 */
export function useWorkerProcessFixture(tag: string): { redis: RedisClient; setup(config: WorkerFixtureConfig): WorkerFixture; cleanUpAfter(keyPrefix: string): void } {
  const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
  const prefixes: string[] = [];
  const children = new WorkerProcesses(join(__dirname, '../../test-fixtures/worker-process.js'));
  afterAll(async () => {
    children.killAll();
    for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
    await redis.quit();
    await closeSharedConnections();
  });

  function setup(config: WorkerFixtureConfig): WorkerFixture {
    const prefix = uniquePrefix(tag);
    prefixes.push(prefix);
    const pool = config.pool ? defineConcurrencyPool(config.pool) : undefined;
    const { rateTenants } = config;
    const fairness = { ...config.fairness, ...(rateTenants ? { tenantRate: (t: string) => rateTenants[t] } : {}) };
    const definitions = new Map<string, QueueDefinition<typeof schema>>(
      config.queues.map((q) => [
        q.name,
        defineQueue({ namespace: 'agent', name: q.name, schema, prefix, connection: redis, ...(q.fair ? { fairness } : {}), ...(pool ? { pools: [pool] } : {}) }),
      ]),
    );
    const readLog = async (): Promise<LogEntry[]> => (await redis.lrange(`${prefix}:log`, 0, -1)).map((l) => JSON.parse(l) as LogEntry);
    return {
      prefix,
      pool,
      definitions,
      start: (processes) => children.start(processes, [prefix, JSON.stringify(config)]),
      readLog,
      runs: async (openUntil = () => Infinity) => {
        const log = await readLog();
        const ends = new Map(log.filter((e) => e.e === 'e').map((e) => [e.run, e.at]));
        return log
          .filter((e) => e.e === 's')
          .map((s) => ({ id: s.id, q: s.q, t: s.t, pid: s.pid, from: s.at, to: ends.get(s.run) ?? openUntil(s) }));
      },
      stop: async () => {
        await children.stop();
        await Promise.all([...definitions.values()].map((d) => d.close()));
      },
      enqueue: (queue, tenantId, count, from = 0) =>
        definitions.get(queue)!.enqueueBulk(Array.from({ length: count }, (_, n) => ({ tenantId, n: from + n }))),
      completed: async (queue) => (await definitions.get(queue)!.queue.getJobCounts('completed')).completed ?? 0,
    };
  }

  return { redis, setup, cleanUpAfter: (keyPrefix) => prefixes.push(keyPrefix) };
}
