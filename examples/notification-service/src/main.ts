/**
 * The notification service as it runs in a container: workers for all five channels until SIGTERM.
 * `NOTIFY_WEBHOOK_URL` routes the `web` channel through the webhook sender.
 */
import { closeSharedConnections } from '@platform/queue';
import { startNotificationService } from './service';

const service = startNotificationService({
  ...(process.env.NOTIFY_WEBHOOK_URL ? { webhookUrl: process.env.NOTIFY_WEBHOOK_URL } : {}),
  handleSignals: false,
});
console.log('notification-service: delivering on email, sms, whatsapp, telegram, web');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void service
      .close()
      .then(() => closeSharedConnections())
      .then(() => process.exit(0));
  });
}
