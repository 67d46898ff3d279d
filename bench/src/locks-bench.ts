import { performance } from 'node:perf_hooks';
import { Mutex } from 'redis-semaphore';
import Redlock from 'redlock';
import type { BenchContext } from './context';
import { acquireLock } from '@platform/locks';
import { alternate, type Contender } from './results';

const TTL_MS = 10_000;

/** One lock library seen the same way: acquire (waiting or not) and release. */
interface LockSubject {
  id: string;
  subject: string;
  /** Resolves to a release function, or undefined when the lock was not acquired. */
  acquire(key: string, wait: boolean): Promise<(() => Promise<unknown>) | undefined>;
}

/**
 * `workers` loops, each doing acquire+release cycles until `total` cycles are done (or
 * `maxMs` passed); returns completed cycles per second.
 */
async function cycles(total: number, workers: number, maxMs: number, keyOf: (worker: number, n: number) => string, wait: boolean, subject: LockSubject): Promise<number> {
  let started = 0;
  let completed = 0;
  const deadline = performance.now() + maxMs;
  const worker = async (w: number) => {
    let n = 0;
    while (started < total && performance.now() < deadline) {
      started++;
      const release = await subject.acquire(keyOf(w, n++), wait);
      if (!release) {
        started--;
        continue;
      }
      await release();
      completed++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return completed / ((performance.now() - start) / 1000);
}

/** Section 3: lock acquire+release cycles, uncontended and contended. */
export async function runLockBenchmarks(ctx: BenchContext): Promise<void> {
  const { results, log, runId } = ctx;
  const section = '3. Locks';
  const client = ctx.plainClient();
  const subjects: LockSubject[] = [];
  subjects.push({
      id: 'platform',
      subject: '@platform/locks acquireLock',
      async acquire(key, wait) {
        const lock = await acquireLock(client, key, wait ? { ttlMs: TTL_MS, waitMs: TTL_MS } : { ttlMs: TTL_MS });
        return lock ? () => lock.release() : undefined;
      },
    });
  subjects.push({
    id: 'unfenced',
    subject: '@platform/locks acquireLock, fencing: false',
    async acquire(key, wait) {
      const lock = await acquireLock(client, key, wait ? { ttlMs: TTL_MS, waitMs: TTL_MS, fencing: false } : { ttlMs: TTL_MS, fencing: false });
      return lock ? () => lock.release() : undefined;
    },
  });
  // Redlock polls: 10 ms between attempts, no jitter, as many attempts as it takes (-1).
  const redlockWaiting = new Redlock([client], { retryCount: -1, retryDelay: 10, retryJitter: 0 });
  const redlockOnce = new Redlock([client], { retryCount: 0, retryDelay: 10, retryJitter: 0 });
  redlockWaiting.on('error', () => undefined);
  redlockOnce.on('error', () => undefined);
  subjects.push({
    id: 'redlock',
    subject: 'redlock 5 (one client)',
    async acquire(key, wait) {
      try {
        const lock = await (wait ? redlockWaiting : redlockOnce).acquire([key], TTL_MS);
        return () => lock.release();
      } catch {
        return undefined;
      }
    },
  });
  subjects.push({
    id: 'semaphore',
    subject: 'redis-semaphore Mutex',
    async acquire(key, wait) {
      // refreshInterval 0: no refresh timer, like acquireLock without autoExtend.
      const mutex = new Mutex(client, key, {
        lockTimeout: TTL_MS,
        acquireTimeout: wait ? TTL_MS : 1,
        acquireAttemptsLimit: wait ? Number.POSITIVE_INFINITY : 1,
        retryInterval: 10,
        refreshInterval: 0,
      });
      if (!wait) return (await mutex.tryAcquire()) ? () => mutex.release() : undefined;
      try {
        await mutex.acquire();
      } catch {
        return undefined;
      }
      return () => mutex.release();
    },
  });

  const ids = ['platform', 'unfenced', 'redlock', 'semaphore'];
  const name = (id: string) => subjects.find((s) => s.id === id)?.subject ?? '@platform/locks acquireLock';
  const keys = 1000;
  const uWorkers = 50;
  const cWorkers = 20;
  const nUncontended = ctx.size(20_000, 300);
  const nContended = ctx.size(3000, 100);
  const maxMs = ctx.size(30_000, 5_000);
  for (const id of ids) {
    results.figure({ id: `lock.u.${id}`, section, benchmark: `uncontended: ${keys} keys, ${uWorkers} workers`, subject: name(id), unit: 'cycles/s', better: 'higher' });
  }
  for (const id of ids) {
    results.figure({ id: `lock.c.${id}`, section, benchmark: `contended: 1 key, ${cWorkers} waiting workers`, subject: name(id), unit: 'cycles/s', better: 'higher' });
  }
  results.compare({ label: 'uncontended: platform / redlock', platform: 'lock.u.platform', anchor: 'lock.u.redlock', op: '>=', target: 1.5 });
  results.compare({ label: 'uncontended: platform / redis-semaphore', platform: 'lock.u.platform', anchor: 'lock.u.semaphore', op: '>=', target: 1.0 });
  results.compare({ label: 'contended: platform / redlock', platform: 'lock.c.platform', anchor: 'lock.c.redlock', op: '>=', target: 1.5 });
  results.compare({ label: 'contended: platform / redis-semaphore', platform: 'lock.c.platform', anchor: 'lock.c.semaphore' });
  for (const [kind, anchor] of [['u', 'redlock'], ['u', 'redis-semaphore'], ['c', 'redlock']] as const) {
    const label = `${kind === 'u' ? 'uncontended' : 'contended'}: platform fencing: false / ${anchor}`;
    results.compare({ label, platform: `lock.${kind}.unfenced`, anchor: `lock.${kind}.${anchor === 'redlock' ? 'redlock' : 'semaphore'}` });
  }
  results.compare({ label: 'uncontended: platform fencing: false / fenced', platform: 'lock.u.unfenced', anchor: 'lock.u.platform' });

  const prefix = `${runId}-lock`;
  const cleanup = async () => {
    await ctx.deleteKeys(`${prefix}`);
    await ctx.deleteKeys(`mutex:${prefix}`);
  };
  // Worker w owns keys w, w+50, w+100, ...: no two workers ever want the same key.
  const uncontendedKey = (w: number, n: number) => `${prefix}:u:${w + uWorkers * (n % (keys / uWorkers))}`;
  const contendedKey = () => `${prefix}:c`;

  for (const s of subjects) await cycles(Math.min(300, nUncontended), uWorkers, maxMs, uncontendedKey, false, s);
  await cleanup();

  log('  uncontended');
  await alternate(
    ctx.rounds,
    subjects.map<Contender>((s) => ({
      name: s.id,
      run: async () => {
        results.add(`lock.u.${s.id}`, await cycles(nUncontended, uWorkers, maxMs, uncontendedKey, false, s));
        await cleanup();
      },
    })),
    log,
  );
  log('  contended');
  await alternate(
    ctx.rounds,
    subjects.map<Contender>((s) => ({
      name: s.id,
      run: async () => {
        results.add(`lock.c.${s.id}`, await cycles(nContended, cWorkers, maxMs, contendedKey, true, s));
        await cleanup();
      },
    })),
    log,
  );
  results.notes.push(
    `Locks: TTL ${TTL_MS} ms, all libraries on one plain ioredis client (the platform adds its own subscriber connection for wake-ups). ` +
      `Uncontended: ${nUncontended} cycles per round, worker w cycles over its own 20 keys (no collisions), no waiting. ` +
      `Contended: ${nContended} cycles per round on one key; redlock retryDelay 10 ms, retryJitter 0, retryCount -1; ` +
      `redis-semaphore retryInterval 10 ms, refreshInterval 0; @platform/locks with its defaults (wake on release).`,
  );
}
