import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { createRedisConnection, loadRedisConfig, type RedisClient } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, testRedisTarget } from '@platform/testing';
import type { RateLimiter, RateLimitResult } from './rate-limiter';

/**
 * A test file's connection and key prefix: keys under `<prefix>:` (and under every prefix passed to
 * `own`) are deleted, and the connection closed, after all its tests.
 */
export function testRedis(): { redis: RedisClient; prefix: string; own: (prefix: string) => string } {
  const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
  const prefixes = [uniquePrefix('rl')];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeysByPrefix(redis, `${prefix}:`);
    await redis.quit();
  });
  return { redis, prefix: prefixes[0]!, own: (prefix) => (prefixes.push(prefix), prefix) };
}

/**
 * Starts the fixtures in `test-fixtures/` (plain CommonJS over the built package: `npm test` builds
 * it first) and SIGKILLs any still running after all tests of the file.
 */
export function fixtureProcesses(): (fixture: string, args: string[], stdio?: StdioOptions) => ChildProcess {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  return (fixture, args, stdio = ['pipe', 'pipe', 'inherit']) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'test-fixtures', fixture), testRedisTarget(), ...args], { stdio });
    children.push(child);
    return child;
  };
}

/** A decision bracketed by Redis `TIME` read just before and just after it, µs. */
export interface TimedResult extends RateLimitResult {
  /** Redis time before the decision, µs. */
  before: number;
  /** Redis time after the decision, µs. */
  after: number;
}

function micros(time: ReadonlyArray<string | number>): number {
  return Number(time[0]) * 1e6 + Number(time[1]);
}

/**
 * Consumes with the decision bracketed by two `TIME` commands on the same connection: Redis runs
 * them in the order they were written, so the script's own `TIME` lies in [before, after].
 */
export async function timedConsume(redis: RedisClient, limiter: RateLimiter, tenantId: string): Promise<TimedResult> {
  // One after another: sent together, the second TIME could run before the limiter's script when
  // the limiter awaits anything before sending it, and the bounds would not hold.
  const before = await redis.time();
  const result = await limiter.consume(tenantId);
  const after = await redis.time();
  return { ...result, before: micros(before), after: micros(after) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
