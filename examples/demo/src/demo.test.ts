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

it('with a dashboard, prints its URL and serves the demo queues while it runs', async () => {
  const token = 'demo-dashboard-token-0123456789';
  const seen: { status: number; queues: string[] } = { status: 0, queues: [] };
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  try {
    await runDemo({
      redisUrl: process.env.REDIS_URL!,
      trafficSeconds: 1,
      print: true,
      tenants: ['acme', 'globex'],
      dashboard: {
        port: 0,
        token,
        beforeClose: async (url) => {
          const response = await fetch(`${url}api/overview`, { headers: { authorization: `Bearer ${token}` } });
          seen.status = response.status;
          seen.queues = ((await response.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
        },
      },
    });
  } finally {
    log.mockRestore();
  }
  expect(lines.some((line) => /^Dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(line))).toBe(true);
  expect(lines.join('\n')).not.toContain(token);
  expect(seen.status).toBe(200);
  expect(seen.queues).toEqual(expect.arrayContaining(['agent__activity-planner', 'rag__ingestion']));
}, 120_000);
