import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix } from '@platform/testing';
import { RATE_LIMIT_ALGORITHMS } from './index';

// Child processes require the built package: `npm test` builds it first
// (or `npx turbo run build --filter=@platform/ratelimit...`).
const FIXTURE = join(__dirname, '..', 'test-fixtures', 'consume-burst.js');
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const prefix = uniquePrefix('rl');
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
});

function lines(child: ChildProcess): AsyncIterator<string> {
  let buffer = '';
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let index: number;
    while ((index = buffer.indexOf('\n')) >= 0) {
      queue.push(buffer.slice(0, index));
      buffer = buffer.slice(index + 1);
    }
    wake?.();
  });
  return {
    async next() {
      while (queue.length === 0) {
        if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return { value: queue.shift()!, done: false };
    },
  };
}

describe('exactness across processes', () => {
  it.each(RATE_LIMIT_ALGORITHMS)('%s: 300 concurrent callers from 3 processes against limit 50 -> exactly 50 allowed', async (algorithm) => {
    const provider = `exact-${algorithm}`;
    const procs = Array.from({ length: 3 }, () => {
      const child = spawn(process.execPath, [FIXTURE, process.env.REDIS_URL!, prefix, provider, 'tenant-1', algorithm, '50', '3600', '100'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      return { child, out: lines(child) };
    });
    for (const { out } of procs) expect((await out.next()).value).toBe('ready');
    // Release all three at once.
    for (const { child } of procs) child.stdin!.write('go\n');
    const allowed = await Promise.all(procs.map(async ({ out }) => (JSON.parse((await out.next()).value) as { allowed: number }).allowed));
    expect(allowed.reduce((a, b) => a + b, 0)).toBe(50);
    const ttl = await redis.pttl(`${prefix}:tenant-1:${provider}`);
    expect(ttl).toBeGreaterThan(0);
  });
});
