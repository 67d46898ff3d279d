import { closeSharedConnections } from '@platform/queue';
import { runDemo } from './run-demo';

afterAll(() => closeSharedConnections());

it('the demo processes jobs for every tenant, delivers its notifications and loses nothing', async () => {
  const result = await runDemo({ redisUrl: process.env.REDIS_URL!, trafficSeconds: 2, print: false, tenants: ['acme', 'globex', 'initech'] });
  expect(result.lost).toBe(0);
  expect(result.failures).toBe(0);
  expect(result.completed).toBe(result.enqueued);
  for (const byTenant of Object.values(result.completedByQueueAndTenant)) {
    for (const tenantId of ['acme', 'globex', 'initech']) expect(byTenant[tenantId]).toBeGreaterThan(0);
  }
  expect(result.notificationsSent).toBeGreaterThan(0);
  expect(result.notificationsDeduplicated).toBeGreaterThan(0);
  // Every e-mail went through the SMTP adapter to the demo's own SMTP server.
  expect(result.emailsDelivered).toBeGreaterThan(0);
  expect(result.emailsReceived).toBe(result.emailsDelivered);
  expect(result.summary).toMatch(/e-mails received by the local SMTP server\s+\d+/);
  expect(result.summary).toMatch(/No job lost/);
}, 120_000);
