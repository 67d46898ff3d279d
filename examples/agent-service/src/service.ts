import { randomUUID } from 'node:crypto';
import { activityLockHandler, LockNotAcquiredError } from '@platform/locks';
import { notifyOnce } from '@platform/notifications';
import { agentQueue, createWorker, ragIngestionQueue, type QueueDefinition } from '@platform/queue';
import { createRateLimiter, RateLimitError, withRateLimit } from '@platform/ratelimit';
import { createResumeCache } from '@platform/sessions';
import type { Worker } from 'bullmq';
import type { RedisClient } from '@platform/redis';

/** The agent roles this service runs, one queue each (`agent__<role>`). */
export const AGENT_ROLES = ['activity-planner', 'keyword-researcher', 'blog-writer', 'social-post-writer'] as const;

/**
 * Runs Claude for one agent job: `claude -p … --session-id <sessionId>` for a new session, or
 * `claude -p … --resume <sessionId>` to continue the activity's earlier one.
 */
export type ClaudeRunner = (run: { sessionId: string; resume: boolean; tenantId: string; role: string; input: Record<string, unknown> }) => Promise<void>;

/** Options of {@link startAgentService}. */
export interface AgentServiceOptions {
  /** Connection for producers, the limiter, the locks and notifyOnce. */
  redis: RedisClient;
  /** Connection for the workers (role `worker`). */
  workerConnection: RedisClient;
  /** Base URL of the SEMrush API (or the local stub). */
  semrushUrl: string;
  /** Per-tenant SEMrush limit. @defaultValue `{ limit: 10, windowSeconds: 60 }` */
  semrushLimit?: { limit: number; windowSeconds: number };
  /** BullMQ prefix (and limiter key prefix) so a demo run does not touch other data. @defaultValue `'bull'` */
  prefix?: string;
  /** Jobs in parallel per queue. @defaultValue `8` */
  concurrency?: number;
  /** Simulated work per job, in ms. @defaultValue `20` */
  workMs?: number;
  /** Close gracefully on SIGTERM/SIGINT. @defaultValue `true` */
  handleSignals?: boolean;
  /** Runs Claude for a job. @defaultValue a stand-in that takes about `workMs` */
  claude?: ClaudeRunner;
}

/** What the service did, for the demo's summary. */
export interface AgentServiceStats {
  /** Completed jobs by queue and tenant. */
  completed: Map<string, Map<string, number>>;
  /** SEMrush calls refused by the limiter (the job was delayed, no attempt spent). */
  rateLimited: number;
  /** Jobs that found their activity locked by another job and were delayed. */
  lockWaits: number;
  notificationsEnqueued: number;
  notificationsDeduplicated: number;
  /** Jobs that failed for good. */
  failures: { queue: string; jobId: string | undefined; reason: string }[];
  /** Claude sessions started for an activity, and runs (retries included) that resumed one. */
  claudeSessions: { started: number; resumed: number };
}

/** A running agent service. */
export interface AgentService {
  readonly queues: readonly QueueDefinition[];
  readonly stats: AgentServiceStats;
  close(): Promise<void>;
}

function count(map: Map<string, Map<string, number>>, a: string, b: string): void {
  let inner = map.get(a);
  if (!inner) map.set(a, (inner = new Map()));
  inner.set(b, (inner.get(b) ?? 0) + 1);
}

/**
 * Starts the agent service: one queue and worker per role plus `rag__ingestion`. Each agent job
 * runs under its activity's lock (`lock:activity:<activityId>`; a second job for a busy activity is
 * delayed, not run concurrently); keyword research calls SEMrush through the per-tenant limiter
 * (over the limit, the job waits for the window without spending an attempt); every activity
 * sends one "activity completed" e-mail with notifyOnce, however many jobs it had.
 */
export function startAgentService(options: AgentServiceOptions): AgentService {
  const { redis, workerConnection, prefix = 'bull', concurrency = 8, workMs = 20 } = options;
  const handleSignals = options.handleSignals ?? true;
  const stats: AgentServiceStats = {
    completed: new Map(),
    rateLimited: 0,
    lockWaits: 0,
    notificationsEnqueued: 0,
    notificationsDeduplicated: 0,
    failures: [],
    claudeSessions: { started: 0, resumed: 0 },
  };
  const semrush = createRateLimiter({
    redis,
    provider: 'semrush',
    ...(options.semrushLimit ?? { limit: 10, windowSeconds: 60 }),
    ...(prefix === 'bull' ? {} : { prefix: `${prefix}-ratelimit` }),
  });

  const work = () => new Promise((resolve) => setTimeout(resolve, workMs / 2 + Math.random() * workMs));
  const claude: ClaudeRunner = options.claude ?? (() => work().then(() => undefined));
  // claude_session:<activityId>, 7 days: a retried job continues the activity's Claude session.
  const resume = createResumeCache({ redis, ...(prefix === 'bull' ? {} : { keyPrefix: prefix }) });

  const researchKeywords = async (tenantId: string, phrase: string): Promise<unknown> => {
    try {
      return await withRateLimit(semrush, tenantId, async () => {
        const response = await fetch(`${options.semrushUrl}/keywords?phrase=${encodeURIComponent(phrase)}`, {
          headers: { 'x-tenant-id': tenantId },
        });
        if (!response.ok) throw new Error(`SEMrush answered ${response.status}`);
        return response.json();
      });
    } catch (error) {
      if (error instanceof RateLimitError) stats.rateLimited += 1;
      throw error;
    }
  };

  const agentQueues = AGENT_ROLES.map((role) => agentQueue(role, { prefix, connection: redis }));
  const rag = ragIngestionQueue({ prefix, connection: redis });
  const workers: Worker[] = [];

  for (const definition of agentQueues) {
    const role = definition.name.slice('agent__'.length);
    const locked = activityLockHandler(
      redis,
      (job: { data: { activityId: string } }) => job.data.activityId,
      async (job: { data: { tenantId: string; activityId: string; input: Record<string, unknown> } }) => {
        const { tenantId, activityId, input } = job.data;
        const previous = await resume.lookup(activityId);
        const sessionId = previous ?? randomUUID();
        // Remembered before Claude runs, so a run that crashes is resumed by the retry.
        if (previous === null) await resume.remember(activityId, sessionId);
        stats.claudeSessions[previous === null ? 'started' : 'resumed'] += 1;
        await claude({ sessionId, resume: previous !== null, tenantId, role, input });
        if (role === 'keyword-researcher') await researchKeywords(job.data.tenantId, String(job.data.input.topic ?? job.data.activityId));
        const sent = await notifyOnce(
          {
            tenantId: job.data.tenantId,
            type: 'activity-completed',
            dedupeKey: job.data.activityId,
            channel: 'email',
            payload: { to: `owner@${job.data.tenantId}.test`, subject: `Activity ${job.data.activityId} is done`, text: `Finished by ${role}.` },
          },
          prefix === 'bull' ? {} : { keyPrefix: prefix },
        );
        if (sent.enqueued) stats.notificationsEnqueued += 1;
        else stats.notificationsDeduplicated += 1;
        return { role };
      },
      { ttlMs: 10_000 },
    );
    const worker = createWorker(
      definition,
      async (job, context) => {
        try {
          return await locked(job, context);
        } catch (error) {
          if (error instanceof LockNotAcquiredError) stats.lockWaits += 1;
          throw error;
        }
      },
      { connection: workerConnection, concurrency, handleSignals },
    );
    workers.push(worker as unknown as Worker);
  }

  workers.push(
    createWorker(
      rag,
      async () => {
        await work();
        return { chunks: 12 };
      },
      { connection: workerConnection, concurrency, handleSignals },
    ) as unknown as Worker,
  );

  for (const worker of workers) {
    worker.on('completed', (job) => count(stats.completed, worker.name, (job.data as { tenantId: string }).tenantId));
    worker.on('failed', (job, error) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) stats.failures.push({ queue: worker.name, jobId: job.id, reason: error.message });
    });
  }

  return {
    queues: [...agentQueues, rag] as unknown as QueueDefinition[],
    stats,
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all([...agentQueues, rag].map((definition) => definition.close()));
    },
  };
}
