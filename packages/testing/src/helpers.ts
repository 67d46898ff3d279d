import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

type RedisClient = Redis | Cluster;

/** A unique, colon-free prefix for one test's keys and queue names, e.g. `t-3f2a9c1b`. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * Deletes the keys that match `prefix*` with SCAN (never FLUSHDB: other tests share the server).
 * On a cluster, SCANs every master and deletes key by key (keys of different slots cannot share
 * one UNLINK).
 * @returns how many keys were deleted.
 */
export async function deleteKeysByPrefix(redis: RedisClient, prefix: string): Promise<number> {
  if (redis.isCluster) {
    await redis.ping(); // the node list is known once the slots are loaded
    let deleted = 0;
    for (const node of (redis as Cluster).nodes('master')) {
      deleted += await scanAndDelete(node, prefix, (keys) => Promise.all(keys.map((key) => node.unlink(key))).then((n) => n.reduce((a, b) => a + b, 0)));
    }
    return deleted;
  }
  return scanAndDelete(redis as Redis, prefix, (keys) => (redis as Redis).unlink(...keys));
}

async function scanAndDelete(node: Redis, prefix: string, unlink: (keys: string[]) => Promise<number>): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await unlink(keys);
  } while (cursor !== '0');
  return deleted;
}

/** Polls `check` every `intervalMs` until it returns a truthy value, or rejects after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`waitFor: condition not met within ${timeoutMs} ms (last value: ${String(last)})`);
}

/**
 * The names in the first column of the table under a README's `## API` heading (each written as
 * `` `name` ``), for a test that compares them with the package's runtime exports.
 */
export function readmeApiNames(readmePath: string): string[] {
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf('\n## API\n');
  if (start < 0) throw new Error(`${readmePath} has no "## API" section`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| `([A-Za-z_$][\w$]*)` \|/gm)].map((match) => match[1]!);
}

/** Runs `call` and returns what it rejected with (`undefined` if it resolved) and how long it took, ms. */
export async function rejectionOf(call: () => Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = performance.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, elapsedMs: performance.now() - started };
}

/** Whether a process with this PID exists (signal 0: nothing is sent). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
