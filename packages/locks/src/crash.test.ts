import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { deleteKeysByPrefix, uniquePrefix, connectTestRedis, testRedisTarget } from '@platform/testing';
import { acquireLock, acquireSemaphore } from './index';

// Children require the built package: `npx turbo run build --filter=@platform/locks...` (npm test does).
const FIXTURE = join(__dirname, '..', 'test-fixtures', 'holder.js');

const redis = connectTestRedis();
const prefix = uniquePrefix('crash');
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
});

/** Starts a holder process and resolves with it and its first line once it holds the lock/slot. */
function startHolder(args: string[]): Promise<{ child: ChildProcess; line: { acquired: boolean; fence?: number } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, testRedisTarget(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve({ child, line: JSON.parse(out.slice(0, newline)) as { acquired: boolean; fence?: number } });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`holder exited early with ${code}: ${err}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(child.pid!, 'SIGKILL');
  });
}

describe('a holder process killed with SIGKILL', () => {
  it('leaves the lock held until its TTL runs out, then free (with a greater fence)', async () => {
    const key = `${prefix}:lock`;
    const ttlMs = 1500;
    const { child, line } = await startHolder(['lock', key, String(ttlMs)]);
    expect(line.acquired).toBe(true);
    await kill(child);

    // Not before: the key is still there with time left, and an acquisition fails.
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    expect(await acquireLock(redis, key, { ttlMs: 1000 })).toBeNull();

    // After: a waiter gets it once the TTL has run out (no release message ever comes).
    const lock = await acquireLock(redis, key, { ttlMs: 1000, waitMs: ttlMs * 4 });
    expect(lock).not.toBeNull();
    expect(lock!.fence).toBeGreaterThan(line.fence!);
    await lock!.release();
  });

  it("frees the killed holder's semaphore slot after its lease TTL", async () => {
    const key = `${prefix}:sem`;
    const ttlMs = 1500;
    const { child, line } = await startHolder(['semaphore', key, String(ttlMs), '1']);
    expect(line.acquired).toBe(true);
    await kill(child);

    expect(await redis.zcard(key)).toBe(1);
    expect(await acquireSemaphore(redis, key, { limit: 1, ttlMs: 1000 })).toBeNull();

    const lease = await acquireSemaphore(redis, key, { limit: 1, ttlMs: 1000, waitMs: ttlMs * 4 });
    expect(lease).not.toBeNull();
    // The dead holder's lease was removed by the acquiring script itself.
    expect(await redis.zrange(key, '0', '-1')).toEqual([lease!.id]);
    expect(await lease!.release()).toBe(true);
  });
});
