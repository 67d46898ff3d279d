import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { queuePrefix } from '@platform/ops';
import { guardHeldJobs } from '@platform/queue/internal';
import { Queue } from 'bullmq';
import express from 'express';
import type { RedisClient } from '@platform/redis';

/** bull-board mounted at `mountPath`, with the platform's queues registered (kept in sync with Redis). */
export interface JobsBoard {
  /** Serves a request whose `url` starts with `mountPath`. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

/**
 * The job-level views: bull-board's Express adapter in an Express app of its own, so the dashboard
 * can serve it from a plain Node handler. The queue list is re-read at most every `refreshMs`.
 */
export function createJobsBoard(params: {
  redis: RedisClient;
  prefix: string;
  mountPath: string;
  listQueues: () => Promise<readonly string[]>;
  refreshMs?: number;
}): JobsBoard {
  const { redis, prefix, mountPath } = params;
  const refreshMs = params.refreshMs ?? 5000;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(mountPath);
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'platform jobs' } } });
  const app = express();
  app.disable('x-powered-by');
  app.use(mountPath, serverAdapter.getRouter() as express.Router);
  const queues = new Map<string, Queue>();
  let checkedAt = 0;
  let listed = '';

  async function sync(): Promise<void> {
    if (Date.now() - checkedAt < refreshMs) return;
    checkedAt = Date.now();
    const names = [...(await params.listQueues())].sort();
    const key = names.join('\n');
    if (key === listed) return;
    listed = key;
    for (const name of names) {
      if (queues.has(name)) continue;
      // skipMetasUpdate: showing a queue must not rewrite its meta hash (event stream cap, version).
      const queue = new Queue(name, { connection: redis, prefix: queuePrefix(redis, prefix, name), skipMetasUpdate: true });
      // bull-board's "promote" and "promote all" must not release a fair queue's held backlog past its tenants' turns.
      guardHeldJobs(queue, () => redis);
      queues.set(name, queue);
    }
    board.replaceQueues(names.map((name) => new BullMQAdapter(queues.get(name)!)));
  }

  return {
    async handle(request, response) {
      await sync();
      await new Promise<void>((resolve, reject) => {
        response.once('finish', resolve);
        response.once('close', resolve);
        app(request as express.Request, response as express.Response, (error?: unknown) => {
          if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else {
            response.statusCode = 404;
            response.end('not found');
            resolve();
          }
        });
      });
    },
    async close() {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      queues.clear();
    },
  };
}
