import type { ChildProcess } from 'node:child_process';
import { RATE_LIMIT_ALGORITHMS } from './options';
import { fixtureProcesses, testRedis } from './test-helpers';

// Child processes require the built package: `npm test` builds it first
// (or `npx turbo run build --filter=@platform/ratelimit...`).
const { redis, prefix } = testRedis();
const start = fixtureProcesses();

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
      const child = start('consume-burst.js', [prefix, provider, 'tenant-1', algorithm, '50', '3600', '100']);
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
