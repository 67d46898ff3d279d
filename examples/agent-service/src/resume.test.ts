import { closeNotificationQueues } from '@platform/notifications';
import { agentQueue, closeSharedConnections } from '@platform/queue';
import { closeConnection, createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import { startAgentService, type AgentService, type ClaudeRunner } from './service';
import { startSemrushStub, type SemrushStub } from './semrush-stub';

const config = loadRedisConfig({ REDIS_URL: process.env.REDIS_URL! });
const redis = createRedisConnection(config, { role: 'producer' });
const workerConnection = createRedisConnection(config, { role: 'worker' });
const prefix = uniquePrefix('agent-resume');
let service: AgentService;
let stub: SemrushStub;
const blogWriter = agentQueue('blog-writer', { prefix, connection: redis });

afterAll(async () => {
  await service?.close();
  await blogWriter.close();
  await closeNotificationQueues();
  // notifyOnce enqueues through the process's shared connection.
  await closeSharedConnections();
  await stub?.close();
  await deleteKeysByPrefix(redis, prefix);
  await closeConnection(redis);
  await closeConnection(workerConnection);
});

it('a retried activity resumes its Claude session instead of starting a new one', async () => {
  const runs: { activityId: string; sessionId: string; resume: boolean }[] = [];
  // The first run of each activity crashes after Claude has started; BullMQ retries the job.
  const claude: ClaudeRunner = async ({ sessionId, resume, input }) => {
    const activityId = String(input.activity);
    runs.push({ activityId, sessionId, resume });
    if (runs.filter((r) => r.activityId === activityId).length === 1) throw new Error('Claude exited with code 1');
  };
  stub = await startSemrushStub();
  service = startAgentService({ redis, workerConnection, semrushUrl: stub.url, prefix, handleSignals: false, claude, workMs: 1 });
  await blogWriter.enqueue({ tenantId: 'acme', activityId: 'act-1', input: { activity: 'act-1' } });
  await blogWriter.enqueue({ tenantId: 'acme', activityId: 'act-2', input: { activity: 'act-2' } });

  await waitFor(() => (service.stats.completed.get('agent__blog-writer')?.get('acme') ?? 0) === 2, 20_000);
  for (const activityId of ['act-1', 'act-2']) {
    const [first, retry, ...more] = runs.filter((r) => r.activityId === activityId);
    expect(more).toEqual([]);
    expect(first).toMatchObject({ resume: false });
    expect(retry).toEqual({ activityId, sessionId: first!.sessionId, resume: true });
    const ttl = await redis.ttl(`${prefix}:claude_session:${activityId}`);
    expect(ttl).toBeGreaterThan(604_700);
    expect(await redis.get(`${prefix}:claude_session:${activityId}`)).toBe(first!.sessionId);
  }
  expect(runs.filter((r) => r.activityId === 'act-1')[0]!.sessionId).not.toBe(runs.filter((r) => r.activityId === 'act-2')[0]!.sessionId);
  expect(service.stats.claudeSessions).toEqual({ started: 2, resumed: 2 });
}, 30_000);
