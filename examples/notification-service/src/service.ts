import {
  createConsoleSender,
  createNotificationWorker,
  createWebhookSender,
  NOTIFICATION_CHANNELS,
  type NotificationChannel,
  type NotificationSender,
} from '@platform/notifications';
import type { Worker } from 'bullmq';
import type { RedisClient } from '@platform/queue';

/** Options of {@link startNotificationService}. */
export interface NotificationServiceOptions {
  /** Key prefix of the notification queues and keys (see `@platform/notifications`). @defaultValue `REDIS_KEY_PREFIX`, else none */
  prefix?: string;
  /** Worker connection. @defaultValue the shared `worker` connection */
  connection?: RedisClient;
  /** Where the webhook sender posts. @defaultValue none: every channel uses the console sender */
  webhookUrl?: string;
  /** The channel delivered through the webhook sender. @defaultValue `'web'` */
  webhookChannel?: NotificationChannel;
  /** Where the console sender writes. @defaultValue stdout */
  write?: (line: string) => void;
  /** Senders by channel (e.g. `{ email: createSmtpSender(…) }`); they win over the console and webhook senders. @defaultValue none */
  senders?: { [C in NotificationChannel]?: NotificationSender<C> };
  /** Jobs in parallel per channel. @defaultValue `5` */
  concurrency?: number;
  /** Close gracefully on SIGTERM/SIGINT. @defaultValue `true` */
  handleSignals?: boolean;
}

/** A running notification service. */
export interface NotificationService {
  readonly workers: readonly Worker[];
  /** Messages delivered, by channel and tenant. */
  readonly delivered: Map<NotificationChannel, Map<string, number>>;
  /** Jobs that failed for good (after their last attempt). */
  readonly failures: { channel: NotificationChannel; jobId: string | undefined; reason: string }[];
  close(): Promise<void>;
}

/**
 * Starts one worker per channel (`notifications__email`, `__sms`, `__whatsapp`, `__telegram`,
 * `__web`): the console sender for all of them, and the webhook sender for `webhookChannel` when
 * `webhookUrl` is set.
 */
export function startNotificationService(options: NotificationServiceOptions = {}): NotificationService {
  const webhookChannel = options.webhookChannel ?? 'web';
  const delivered = new Map<NotificationChannel, Map<string, number>>();
  const failures: NotificationService['failures'] = [];

  const workers = NOTIFICATION_CHANNELS.map((channel) => {
    const sender =
      (options.senders?.[channel] as NotificationSender | undefined) ??
      (options.webhookUrl && channel === webhookChannel
        ? createWebhookSender({ url: options.webhookUrl, timeoutMs: 5000 })
        : createConsoleSender({ ...(options.write ? { write: options.write } : {}) }));
    const worker = createNotificationWorker(channel, sender, {
      concurrency: options.concurrency ?? 5,
      handleSignals: options.handleSignals ?? true,
      ...(options.prefix ? { keyPrefix: options.prefix } : {}),
      ...(options.connection ? { connection: options.connection } : {}),
    });
    worker.on('completed', (job) => {
      let byTenant = delivered.get(channel);
      if (!byTenant) delivered.set(channel, (byTenant = new Map()));
      const tenantId = (job.data as { tenantId: string }).tenantId;
      byTenant.set(tenantId, (byTenant.get(tenantId) ?? 0) + 1);
    });
    worker.on('failed', (job, error) => {
      // Only the final failure counts: earlier attempts are retried.
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        failures.push({ channel, jobId: job.id, reason: error.message });
      }
    });
    return worker as unknown as Worker;
  });

  return {
    workers,
    delivered,
    failures,
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
    },
  };
}
