import { createRedisConnection, loadRedisConfig } from '@platform/queue';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { Queue, Worker } from 'bullmq';
import { runMain } from './test-support';

const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const workerRedis = createRedisConnection(loadRedisConfig(), { role: 'worker' });
const prefix = uniquePrefix('cliterm');

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${prefix}:`);
  await redis.quit();
  await workerRedis.quit();
});

// Text that reaches Redis from outside (a payload's tenantId, a provider's error message).
const CLEAR_SCREEN = '\x1b[2J';
const SET_TITLE = '\x1b]0;pwned\x07';
const HIDE_LINE = '\r\x1b[1A\x1b[2K';

describe('text output', () => {
  it('never passes terminal control sequences from Redis through to the terminal', async () => {
    // A plain BullMQ queue beside the platform's: nothing validated its payloads.
    const queue = new Queue('legacy', { connection: redis, prefix });
    await queue.add('x', { tenantId: `evil${SET_TITLE}` });
    await queue.add('y', { tenantId: 'acme' }, { attempts: 1 });
    const worker = new Worker('legacy', async (job) => {
      if (job.name === 'y') throw new Error(`smtp said: ${CLEAR_SCREEN}${HIDE_LINE}ok`);
    }, { connection: workerRedis, prefix });
    await waitFor(async () => (await queue.getFailedCount()) === 1);
    await worker.close();
    await queue.add('z', { tenantId: `evil${SET_TITLE}` });

    const env = { REDIS_URL: process.env.REDIS_URL! };
    const runs = [
      await runMain(['queues', '--prefix', prefix], env),
      await runMain(['failed', 'list', '--queue', 'legacy', '--prefix', prefix], env),
    ];
    for (const run of runs) {
      expect(run.code).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(`${run.stdout}${run.stderr}`).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    }
    // Shown, visibly escaped, rather than dropped.
    expect(runs[0]!.stdout).toContain('evil\\u001b]0;pwned\\u0007');
    expect(runs[1]!.stdout).toContain('smtp said: \\u001b[2J');
    // --json output is JSON as before.
    const json = await runMain(['failed', 'list', '--queue', 'legacy', '--prefix', prefix, '--json'], env);
    expect((JSON.parse(json.stdout) as { jobs: Array<{ failedReason: string }> }).jobs[0]!.failedReason).toBe(`smtp said: ${CLEAR_SCREEN}${HIDE_LINE}ok`);
    await queue.close();
  });
});
