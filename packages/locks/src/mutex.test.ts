import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deleteKeysByPrefix, uniquePrefix, connectTestRedis, testRedisTarget } from '@platform/testing';

// Children require the built package: `npx turbo run build --filter=@platform/locks...` (npm test does).
const FIXTURE = join(__dirname, '..', 'test-fixtures', 'mutex-contender.js');
const PROCESSES = 2;
const CONTENDERS_PER_PROCESS = 25;
const ITERATIONS = 40; // 2 x 25 x 40 = 2,000 critical sections

const redis = connectTestRedis();
const prefix = uniquePrefix('mutex');

afterAll(async () => {
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
});

function runContenders(args: string[]): Promise<Array<[string, string, number]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Array<[string, string, number]>);
      else reject(new Error(`contender process exited with ${code}: ${err}`));
    });
  });
}

describe('mutual exclusion across processes', () => {
  it(`${PROCESSES * CONTENDERS_PER_PROCESS} contenders in ${PROCESSES} processes run 2,000 critical sections that never overlap`, async () => {
    const key = `${prefix}:lock`;
    const counterKey = `${prefix}:counter`;
    const args = [testRedisTarget(), key, counterKey, String(CONTENDERS_PER_PROCESS), String(ITERATIONS)];
    const results = await Promise.all(Array.from({ length: PROCESSES }, () => runContenders(args)));

    const sections = results
      .flat()
      .map(([enter, exit, fence]) => ({ enter: BigInt(enter), exit: BigInt(exit), fence }))
      .sort((a, b) => (a.enter < b.enter ? -1 : a.enter > b.enter ? 1 : 0));
    expect(sections).toHaveLength(PROCESSES * CONTENDERS_PER_PROCESS * ITERATIONS);
    // Both processes got the lock (the test would prove little otherwise).
    expect(results.every((r) => r.length === CONTENDERS_PER_PROCESS * ITERATIONS)).toBe(true);

    let overlaps = 0;
    let fenceOutOfOrder = 0;
    for (let i = 1; i < sections.length; i++) {
      if (sections[i]!.enter <= sections[i - 1]!.exit) overlaps++;
      if (sections[i]!.fence <= sections[i - 1]!.fence) fenceOutOfOrder++;
    }
    expect(overlaps).toBe(0);
    // Fencing tokens strictly increase in the order the holders held the lock, across processes.
    expect(fenceOutOfOrder).toBe(0);
    expect(new Set(sections.map((s) => s.fence)).size).toBe(sections.length);
    // Read, await, write back: any second holder would have lost an update.
    expect(Number(await redis.get(counterKey))).toBe(sections.length);
  }, 120_000);
});
