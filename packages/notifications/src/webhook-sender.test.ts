import { InvalidArgumentError } from '@platform/redis';
import { NotificationSendError } from './errors';
import { FakeHttpServer } from './providers/fake-http';
import type { SendContext } from './sender';
import { createWebhookSender } from './webhook-sender';

const server = new FakeHttpServer();
beforeAll(() => server.start());
afterAll(() => server.stop());

const context: SendContext = { idempotencyKey: 'notify-sms-key', tenantId: 'acme', channel: 'sms', type: 'reminder', dedupeKey: 'r1', jobId: 'notify-sms-key', attempt: 1, signal: undefined };
const message = { to: '+4915112345678', body: 'Your meeting starts in 10 minutes' };

describe('createWebhookSender', () => {
  it('a redirect is not delivered: fetch would re-send the POST as a GET without its body and take the 200 for a sent message', async () => {
    const url = server.script('/moved', [{ status: 301, headers: { location: '/landing' } }]);
    server.script('/landing', [{ status: 200, body: '<html>welcome</html>' }]);
    const error = await createWebhookSender<'sms'>({ url }).send(message, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotificationSendError);
    expect(error).toMatchObject({ status: 301, retryable: false });
    expect(server.on('/landing')).toHaveLength(0);
  });

  it('reads the message id from a 2xx JSON answer of any length', async () => {
    const url = server.script('/long-answer', [{ status: 200, body: { id: 'msg-long-1', recipients: Array.from({ length: 40 }, (_, i) => `+49151123456${i}`) } }]);
    expect(await createWebhookSender<'sms'>({ url }).send(message, context)).toEqual({ providerMessageId: 'msg-long-1' });
  });

  it('refuses a URL with credentials at once, without quoting them (fetch refuses such a URL on every send, quoting it)', async () => {
    const make = () => createWebhookSender<'sms'>({ url: `${server.url.replace('http://', 'http://hook:url-s3cret-pass@')}/with-credentials` });
    const error = await Promise.resolve()
      .then(make)
      .then((sender) => sender.send(message, context))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(String((error as Error).message)).not.toContain('url-s3cret-pass');
    expect(JSON.stringify(error)).not.toContain('url-s3cret-pass');
  });

  it('never quotes a header value (authorisation, signing secret) that the endpoint echoes in its answer', async () => {
    const token = 'wh-token-0123456789';
    const signature = 'sig-secret-abcdef';
    const url = server.script('/echo', [{ status: 401, body: { error: `bad credentials: Bearer ${token}, ${token}, x-signature=${signature}` } }]);
    const error = await createWebhookSender<'sms'>({ url, headers: { authorization: `Bearer ${token}`, 'x-signature': signature } })
      .send(message, context)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect((error as Error).message).toContain('bad credentials');
    expect((error as Error).message).not.toContain(token);
    expect((error as Error).message).not.toContain(signature);
  });
});
