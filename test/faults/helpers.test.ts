// The fault suite's own set-up and teardown: a scenario's afterAll must end every process it
// started, even when one step of the teardown fails.
import { createRedisConnection, loadRedisConfig } from '@platform/queue';
import { startRedisServer } from '@platform/testing';
import { closeAll, effectIds, faultEnvironment, pingPort, until } from './helpers';

test('closeAll runs every step although one fails, and does not throw', async () => {
  const server = await startRedisServer();
  const client = createRedisConnection(loadRedisConfig({ REDIS_URL: server.url }), { role: 'worker' });
  await client.ping();
  const closed: string[] = [];
  const failing = {
    close: async () => {
      throw new Error('close failed');
    },
  };
  const second = {
    close: async () => {
      closed.push('second');
    },
  };
  await expect(closeAll({ definitions: [failing, second], clients: [client, undefined], servers: [server, undefined] })).resolves.toBeUndefined();
  expect(closed).toEqual(['second']);
  expect(client.status).toBe('end');
  expect(await pingPort(server.port)).toBe(false);
});

test('faultEnvironment: a worker fixture runs its queue; close kills it by PID and stops everything', async () => {
  const fault = await faultEnvironment({ name: 'environment', prefix: 'environment' });
  try {
    const worker = await fault.startWorker(fault.env({ FAULT_CONCURRENCY: 1 }));
    expect(fault.workers.has(worker)).toBe(true);
    await fault.definition.enqueue({ tenantId: 'tenant-1', n: 1 }, { jobId: 'job-1' });
    await until(async () => (await effectIds(fault.redis, 'environment')).has('job-1'), 30_000, () => `job-1 not run:\n${worker.output()}`);
    await fault.close();
    expect(worker.child.signalCode).toBe('SIGKILL');
    expect(fault.workers.size).toBe(0);
    expect(fault.redis.status).toBe('end');
    expect(fault.producer.status).toBe('end');
    expect(await pingPort(fault.server.port)).toBe(false);
  } finally {
    await fault.close();
  }
});
