// Scenario: an e-mail provider (Resend's API shape, with Idempotency-Key) answers 503 and then
// refuses connections while notifications for many tenants are queued. Two workers share the
// provider's circuit breaker through Redis. After the provider recovers every notification is
// delivered exactly once (the idempotency keys the provider accepted), none failed, and none spent
// more than 2 attempts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeConnection, createRedisConnection, loadRedisConfig, type RedisClient } from '@platform/redis';
import { startRedisServer, type RedisServer } from '@platform/testing';
import type { Worker } from 'bullmq';
import { closeNotificationQueues, createNotificationWorker, createResendSender, getNotificationStatus, getProviderHealth, notifyOnce } from '@platform/notifications';
import { notificationQueue } from '@platform/queue';
import { FAULT_TEST_TIMEOUT_MS, FULL, size, sleep, until } from './helpers';
import { printSummaryIfComplete, recordScenario } from './summary';

jest.setTimeout(FAULT_TEST_TIMEOUT_MS);

const NOTIFICATIONS = size(1000, 200);
const TENANTS = size(20, 10);
const FAILING_MS = size(20_000, 2_000); // answering 503
const REFUSING_MS = size(40_000, 4_000); // then refusing connections
const OPEN_MS = size(5_000, 1_000);
const KEY_PREFIX = 'outage';

/**
 * A Resend-like provider whose behaviour the test switches: up, 503, or not listening at all. Like
 * Resend, it answers a repeated Idempotency-Key with the first answer and sends nothing again
 * (`repeats` counts those: requests whose answer the worker did not get in time).
 */
class Provider {
  mode: 'up' | 'failing' = 'failing';
  /** Messages sent, by idempotency key. */
  readonly accepted = new Map<string, number>();
  private readonly ids = new Map<string, string>();
  repeats = 0;
  requests = 0;
  requestsWhileDown = 0;
  private server: Server | undefined;
  port = 0;

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.requests += 1;
        if (this.mode !== 'up') {
          this.requestsWhileDown += 1;
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ statusCode: 503, name: 'application_error', message: 'Service unavailable' }));
          return;
        }
        const key = String(req.headers['idempotency-key']);
        let id = this.ids.get(key);
        if (id === undefined) {
          id = `email-${this.ids.size + 1}`;
          this.ids.set(key, id);
          this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
        } else {
          this.repeats += 1;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening: connections are refused. */
  async refuse(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.refuse();
  }
}

let server: RedisServer;
let redis: RedisClient;
let workerConnection: RedisClient;
const workers: Worker[] = [];
const provider = new Provider();

afterAll(async () => {
  await Promise.allSettled(workers.map((w) => w.close()));
  await closeNotificationQueues();
  await provider.close();
  if (redis) await closeConnection(redis);
  if (workerConnection) await closeConnection(workerConnection);
  await server?.stop();
  printSummaryIfComplete();
});

test(`provider outage: ${NOTIFICATIONS} notifications for ${TENANTS} tenants through 503 then refused connections; each delivered once, none failed, at most 2 attempts`, async () => {
  const started = Date.now();
  server = await startRedisServer();
  const config = loadRedisConfig({ REDIS_URL: server.url });
  redis = createRedisConnection(config, { role: 'producer' });
  workerConnection = createRedisConnection(config, { role: 'worker' });
  await provider.listen();

  const sender = createResendSender({ apiKey: 're_outage_test_key', from: 'Acme <noreply@acme.test>', baseUrl: `http://127.0.0.1:${provider.port}` });
  for (let i = 0; i < 2; i++) {
    workers.push(
      createNotificationWorker('email', sender, {
        connection: workerConnection,
        keyPrefix: KEY_PREFIX,
        concurrency: 10,
        handleSignals: false,
        onError: () => undefined,
        circuitBreaker: { failureThreshold: 5, openMs: OPEN_MS, probeTimeoutMs: 5000 },
      }),
    );
  }

  // The outage starts before the notifications arrive and lasts while they are queued.
  const jobIds: string[] = [];
  for (let i = 0; i < NOTIFICATIONS; i++) {
    const tenantId = `tenant-${i % TENANTS}`;
    const { jobId } = await notifyOnce(
      { tenantId, type: 'report-ready', dedupeKey: `report-${i}`, channel: 'email', payload: { to: `owner@${tenantId}.test`, subject: `Report ${i}`, text: 'Your report is ready.' } },
      { connection: redis, keyPrefix: KEY_PREFIX },
    );
    jobIds.push(jobId!);
  }
  await sleep(Math.max(0, FAILING_MS - (Date.now() - started)));
  await provider.refuse();
  const healthDuring = await getProviderHealth('email', 'resend', { connection: redis, keyPrefix: KEY_PREFIX });
  await sleep(REFUSING_MS);
  provider.mode = 'up';
  await provider.listen();
  const recoveredAt = Date.now();

  const queue = notificationQueue('email', { connection: redis, prefix: `${KEY_PREFIX}:bull` });
  queue.queue.on('error', () => undefined);
  try {
    await until(
      async () => (await queue.queue.getCompletedCount()) + (await queue.queue.getFailedCount()) >= NOTIFICATIONS,
      size(600_000, 120_000),
      async () => `completed ${await queue.queue.getCompletedCount()}, failed ${await queue.queue.getFailedCount()} of ${NOTIFICATIONS}`,
    );
    const failed = await queue.queue.getFailedCount();
    const jobs = await Promise.all(jobIds.map((id) => queue.queue.getJob(id)));
    const attempts = jobs.map((job) => job?.attemptsMade ?? 0);
    const maxAttempts = Math.max(...attempts);
    const deliveredKeys = jobIds.filter((id) => provider.accepted.get(id) === 1).length;
    // A twin notification would reach the provider under an idempotency key of its own.
    const twins = provider.accepted.size - deliveredKeys;
    const statuses = await Promise.all(jobIds.map((id) => getNotificationStatus(id, { connection: redis, keyPrefix: KEY_PREFIX })));
    const notDelivered = statuses.filter((s) => s?.state !== 'delivered').length;
    const passed = failed === 0 && deliveredKeys === NOTIFICATIONS && twins === 0 && maxAttempts <= 2 && notDelivered === 0;
    recordScenario({
      scenario: 'provider-outage',
      faults: 1,
      jobs: NOTIFICATIONS,
      lost: NOTIFICATIONS - deliveredKeys,
      duplicates: twins,
      extra: {
        'outage s': (FAILING_MS + REFUSING_MS) / 1000,
        'provider calls while down': provider.requestsWhileDown,
        'breaker trips': healthDuring.trips,
        'repeated requests answered by idempotency': provider.repeats,
        'max attempts': maxAttempts,
        failed,
        'all delivered s after recovery': ((Date.now() - recoveredAt) / 1000).toFixed(1),
      },
      passed,
      size: FULL ? 'full' : 'reduced',
      seconds: (Date.now() - started) / 1000,
    });
    expect(failed).toBe(0);
    expect(twins).toBe(0);
    expect(provider.accepted.size).toBe(NOTIFICATIONS);
    expect(deliveredKeys).toBe(NOTIFICATIONS);
    expect(maxAttempts).toBeLessThanOrEqual(2);
    expect(notDelivered).toBe(0);
    expect(healthDuring.trips).toBeGreaterThanOrEqual(1);
    // The breaker kept the workers off the provider: far fewer calls than notifications while it was down.
    expect(provider.requestsWhileDown).toBeLessThan(NOTIFICATIONS);
  } finally {
    await queue.close();
  }
});
