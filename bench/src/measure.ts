import { performance } from 'node:perf_hooks';
import type { Worker } from 'bullmq';
import { closeConnection, type RedisClient } from '@platform/redis';
import { deleteKeysByPrefix } from '@platform/testing';

/** min / median / max of a list of samples. */
export interface Summary {
  min: number;
  median: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

/** The p-th percentile (0-100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** One run's operations per second and this process's CPU per operation (`process.cpuUsage`, user + system, µs). */
export interface RunFigures {
  jobsPerSecond: number;
  cpuUsPerJob: number;
}

/** Times `fn` (which performs `ops` operations): ops/s and CPU µs per op. */
export async function timed(ops: number, fn: () => Promise<unknown>): Promise<RunFigures> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { jobsPerSecond: ops / seconds, cpuUsPerJob: (used.user + used.system) / ops };
}

/** Runs `worker` until it completed `n` jobs (timed), then closes it and its connection. */
export async function runToCompletion(worker: Worker, connection: RedisClient, n: number): Promise<RunFigures> {
  const done = completions(worker, n, 120_000);
  const figures = await timed(n, async () => {
    void worker.run().catch(() => undefined);
    await done;
  });
  await worker.close();
  await closeConnection(connection);
  return figures;
}

/**
 * Runs `fn(0 .. total-1)` with `concurrency` calls in flight and returns operations per second.
 * Each in-flight slot takes the next index as soon as its previous call settles.
 */
export async function throughput(total: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      await fn(i);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  const seconds = (performance.now() - start) / 1000;
  return total / seconds;
}

/** Runs `fn` `count` times one after the other and returns the latency of each call in ms. */
export async function sequentialLatencies(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn(i);
    out[i] = performance.now() - start;
  }
  return out;
}

/** Times an async function: returns its elapsed seconds. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `worker` completed `count` jobs; rejects on a failed job or after `timeoutMs`. */
export function completions(worker: Worker, count: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`end-to-end: ${done}/${count} jobs completed after ${timeoutMs} ms`)), timeoutMs);
    worker.on('completed', () => {
      if (++done === count) {
        clearTimeout(timer);
        resolve();
      }
    });
    worker.on('failed', (_job, error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** What one queue run of a bench holds, to end with {@link endQueueRun}. */
export interface QueueRun {
  workers: ReadonlyArray<{ close(): Promise<unknown> }>;
  definitions: ReadonlyArray<{ close(): Promise<unknown> }>;
  /** The connection the run's keys are deleted with. */
  producer: RedisClient;
  /** Every connection of the run (the producer too), closed at the end. */
  connections: readonly RedisClient[];
  /** Every key under `<prefix>:` is the run's. */
  prefix: string;
}

/** Ends a queue run: workers, then definitions closed, the run's keys deleted, its connections closed. */
export async function endQueueRun(run: QueueRun): Promise<void> {
  await Promise.all(run.workers.map((worker) => worker.close()));
  await Promise.all(run.definitions.map((definition) => definition.close()));
  await deleteKeysByPrefix(run.producer, `${run.prefix}:`);
  await Promise.all(run.connections.map((client) => closeConnection(client)));
}
