import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, isDeferral } from '@platform/redis';
import { NotificationSendError, ProviderThrottledError } from '../errors';
import type { SendContext } from '../sender';
import { FakeHttpServer, closedPort } from './fake-http';
import { createResendSender } from './resend';
import { createTelegramSender } from './telegram';
import { createTwilioSender } from './twilio';
import { createWhatsAppSender } from './whatsapp';

const server = new FakeHttpServer();
beforeAll(() => server.start());
afterAll(() => server.stop());

function context<C extends SendContext['channel']>(channel: C, idempotencyKey = `key-${Math.random().toString(36).slice(2)}`): SendContext {
  return { idempotencyKey, tenantId: 'acme', channel, type: 'welcome', dedupeKey: 'u1', jobId: idempotencyKey, attempt: 1, signal: undefined };
}

/** Runs `send` and returns what it threw. */
async function failure(send: () => Promise<unknown>): Promise<NotificationSendError> {
  const error = await send().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotificationSendError);
  return error as NotificationSendError;
}

/** The three outcomes every adapter maps answers to. */
function expectPermanent(error: NotificationSendError): void {
  expect(isDeferral(error)).toBe(false);
  expect(error.retryable).toBe(false);
}
function expectRetryable(error: NotificationSendError): void {
  expect(isDeferral(error)).toBe(false);
  expect(error.retryable).toBe(true);
}
function expectDeferral(error: NotificationSendError, ms: number): void {
  expect(error).toBeInstanceOf(ProviderThrottledError);
  expect(isDeferral(error)).toBe(true);
  expect((error as ProviderThrottledError).retryAfterMs).toBe(ms);
}

describe('Resend', () => {
  const apiKey = 're_test_0123456789secret';
  const sender = () => createResendSender({ apiKey, from: 'Acme <noreply@acme.test>', baseUrl: `${server.url}/resend` });
  const mail = { to: 'ada@example.test', subject: 'Hello', text: 'Hi Ada', replyTo: 'help@acme.test' };

  it('POSTs /emails with the bearer key and the Idempotency-Key; 200 { id } is delivered with that id', async () => {
    server.script('/resend/emails', [{ status: 200, body: { id: '49a3999c-0ce1-4ea6-ab68-afcd6dc2e794' } }]);
    const ctx = context('email');
    expect(await sender().send(mail, ctx)).toEqual({ providerMessageId: '49a3999c-0ce1-4ea6-ab68-afcd6dc2e794' });
    const request = server.on('/resend/emails').at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(request.headers['idempotency-key']).toBe(ctx.idempotencyKey);
    expect(JSON.parse(request.body)).toEqual({ from: 'Acme <noreply@acme.test>', to: ['ada@example.test'], subject: 'Hello', text: 'Hi Ada', reply_to: 'help@acme.test' });
  });

  it('maps answers: 429 + Retry-After defers, 500/409-concurrent retry, 401/422/409 fail for good; the key is never in a message', async () => {
    const cases: [number, unknown, Record<string, string> | undefined, (e: NotificationSendError) => void][] = [
      [429, { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests' }, { 'retry-after': '2' }, (e) => expectDeferral(e, 2000)],
      [429, { statusCode: 429, name: 'daily_quota_exceeded', message: 'quota' }, undefined, expectRetryable],
      [500, { statusCode: 500, name: 'application_error', message: 'oops' }, undefined, expectRetryable],
      [409, { statusCode: 409, name: 'concurrent_idempotent_requests', message: 'in progress' }, undefined, expectRetryable],
      [409, { statusCode: 409, name: 'invalid_idempotent_request', message: 'different payload' }, undefined, expectPermanent],
      [401, { statusCode: 401, name: 'missing_api_key', message: 'Missing API key' }, undefined, expectPermanent],
      [403, { statusCode: 403, name: 'invalid_api_key', message: `API key ${apiKey} is invalid` }, undefined, expectPermanent],
      [422, { statusCode: 422, name: 'validation_error', message: 'Invalid `to` field' }, undefined, expectPermanent],
    ];
    for (const [status, body, headers, expectation] of cases) {
      server.script('/resend/emails', [{ status, body, ...(headers ? { headers } : {}) }]);
      const error = await failure(() => sender().send(mail, context('email')));
      expectation(error);
      expect(error.message).toContain(`resend answered ${status}`);
      expect(error.message).not.toContain(apiKey);
    }
  });

  it('no answer is retryable', async () => {
    const port = await closedPort();
    const error = await failure(() => createResendSender({ apiKey, from: 'a@acme.test', baseUrl: `http://127.0.0.1:${port}` }).send(mail, context('email')));
    expectRetryable(error);
    expect(error.message).toMatch(/resend: no answer/);
  });
});

describe('every HTTP adapter', () => {
  it('does not follow a redirect: fetch would re-send the POST as a GET without its body and take the 2xx for a sent message', async () => {
    server.script('/moved/2010-04-01/Accounts/AC0123/Messages.json', [{ status: 301, headers: { location: '/landing' } }]);
    server.script('/moved/emails', [{ status: 302, headers: { location: '/landing' } }]);
    server.script('/landing', [{ status: 201, body: { id: 'not-a-message', sid: 'not-a-message' } }]);
    const resend = createResendSender({ apiKey: 're_test_redirect', from: 'a@acme.test', baseUrl: `${server.url}/moved` });
    const twilio = createTwilioSender({ accountSid: 'AC0123', authToken: 'token-redirect', from: '+15005550006', baseUrl: `${server.url}/moved` });
    expectPermanent(await failure(() => resend.send({ to: 'ada@example.test', subject: 'Hello', text: 'Hi' }, context('email'))));
    expectPermanent(await failure(() => twilio.send({ to: '+4915112345678', body: 'Hi' }, context('sms'))));
    expect(server.on('/landing')).toHaveLength(0);
  });
});

describe('Twilio', () => {
  const accountSid = 'AC0123456789abcdef0123456789abcdef';
  const authToken = 'twilio-auth-token-secret';
  const path = `/twilio/2010-04-01/Accounts/${accountSid}/Messages.json`;
  const sender = () => createTwilioSender({ accountSid, authToken, from: '+15005550006', baseUrl: `${server.url}/twilio` });
  const sms = { to: '+4915112345678', body: 'Your code is 123456' };

  it('POSTs the form with basic auth; 201 { sid } is delivered with the SID', async () => {
    server.script(path, [{ status: 201, body: { sid: 'SM0123456789abcdef0123456789abcdef', status: 'queued' } }]);
    expect(await sender().send(sms, context('sms'))).toEqual({ providerMessageId: 'SM0123456789abcdef0123456789abcdef' });
    const request = server.on(path).at(-1)!;
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({ To: '+4915112345678', From: '+15005550006', Body: 'Your code is 123456' });
  });

  it('maps answers: 429 + Retry-After defers, 503 retries, 400 (21211) and 401 (20003) fail for good', async () => {
    const twilioError = (status: number, code: number, message: string) => ({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    const cases: [number, unknown, Record<string, string> | undefined, (e: NotificationSendError) => void][] = [
      [429, twilioError(429, 20429, 'Too Many Requests'), { 'retry-after': '1' }, (e) => expectDeferral(e, 1000)],
      [429, twilioError(429, 20429, 'Too Many Requests'), undefined, expectRetryable],
      [503, twilioError(503, 20503, 'Service unavailable'), undefined, expectRetryable],
      [400, twilioError(400, 21211, "The 'To' number +4915112345678 is not a valid phone number."), undefined, expectPermanent],
      [401, twilioError(401, 20003, 'Authenticate'), undefined, expectPermanent],
    ];
    for (const [status, body, headers, expectation] of cases) {
      server.script(path, [{ status, body, ...(headers ? { headers } : {}) }]);
      const error = await failure(() => sender().send(sms, context('sms')));
      expectation(error);
      expect(error.message).not.toContain(authToken);
    }
  });

  it('refuses an empty from or messagingServiceSid when created (else every SMS would fail at Twilio)', () => {
    expect(() => createTwilioSender({ accountSid, authToken, from: '' })).toThrow(InvalidArgumentError);
    expect(() => createTwilioSender({ accountSid, authToken, messagingServiceSid: ' ' })).toThrow(InvalidArgumentError);
    expect(() => createTwilioSender({ accountSid, authToken, from: '', messagingServiceSid: 'MG0123' })).toThrow(InvalidArgumentError);
  });
});

describe('WhatsApp Cloud API', () => {
  const accessToken = 'EAAG-whatsapp-access-token-secret';
  const path = '/graph/v21.0/1234567890/messages';
  const sender = () => createWhatsAppSender({ accessToken, phoneNumberId: '1234567890', baseUrl: `${server.url}/graph`, throttleWaitMs: 30_000 });
  const ok = { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: '4915112345678', wa_id: '4915112345678' }], messages: [{ id: 'wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA' }] } };

  it('sends text and template messages in the Graph shape; 200 is delivered with the wamid', async () => {
    server.script(path, [ok]);
    expect(await sender().send({ to: '+4915112345678', body: 'Hello' }, context('whatsapp'))).toEqual({ providerMessageId: 'wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA' });
    let request = server.on(path).at(-1)!;
    expect(request.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(JSON.parse(request.body)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '4915112345678', type: 'text', text: { preview_url: false, body: 'Hello' } });
    await sender().send({ to: '+4915112345678', template: { name: 'report_ready', language: 'de', variables: ['Ada', '3'] } }, context('whatsapp'));
    request = server.on(path).at(-1)!;
    expect(JSON.parse(request.body)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '4915112345678',
      type: 'template',
      template: { name: 'report_ready', language: { code: 'de' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ada' }, { type: 'text', text: '3' }] }] },
    });
  });

  it('maps Graph errors: throttling codes defer, transient codes and 5xx retry, token/parameter/undeliverable fail for good', async () => {
    const graphError = (code: number, message: string) => ({ error: { message, type: 'OAuthException', code, fbtrace_id: 'AbCdEf' } });
    const cases: [number, unknown, (e: NotificationSendError) => void][] = [
      [429, graphError(130429, 'Rate limit hit'), (e) => expectDeferral(e, 30_000)],
      [400, graphError(131056, '(Business Account, Consumer Account) pair rate limit hit'), (e) => expectDeferral(e, 30_000)],
      [500, graphError(131000, 'Something went wrong'), expectRetryable],
      [503, graphError(2, 'Service temporarily unavailable'), expectRetryable],
      [401, graphError(190, `Invalid OAuth access token ${accessToken}`), expectPermanent],
      [400, graphError(100, 'Invalid parameter'), expectPermanent],
      [400, graphError(131026, 'Message undeliverable'), expectPermanent],
    ];
    for (const [status, body, expectation] of cases) {
      server.script(path, [{ status, body }]);
      const error = await failure(() => sender().send({ to: '+4915112345678', body: 'Hello' }, context('whatsapp')));
      expectation(error);
      expect(error.message).not.toContain(accessToken);
    }
  });
});

describe('Telegram Bot API', () => {
  const botToken = '123456789:AAH-telegram-bot-token-secret';
  const path = `/telegram/bot${botToken}/sendMessage`;
  const sender = () => createTelegramSender({ botToken, baseUrl: `${server.url}/telegram` });

  it('POSTs sendMessage; { ok: true } is delivered as <chat id>:<message id>', async () => {
    server.script(path, [{ status: 200, body: { ok: true, result: { message_id: 42, chat: { id: -1001234567890, type: 'channel' }, date: 1700000000, text: 'Hi' } } }]);
    expect(await sender().send({ chatId: -1001234567890, text: 'Hi', parseMode: 'HTML' }, context('telegram'))).toEqual({ providerMessageId: '-1001234567890:42' });
    expect(JSON.parse(server.on(path).at(-1)!.body)).toEqual({ chat_id: -1001234567890, text: 'Hi', parse_mode: 'HTML' });
  });

  it('429 with parameters.retry_after defers that long; 502 retries; 400/401/403 fail for good; the token is never in a message', async () => {
    const cases: [number, unknown, (e: NotificationSendError) => void][] = [
      [429, { ok: false, error_code: 429, description: 'Too Many Requests: retry after 3', parameters: { retry_after: 3 } }, (e) => expectDeferral(e, 3000)],
      [502, { ok: false, error_code: 502, description: 'Bad Gateway' }, expectRetryable],
      [400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' }, expectPermanent],
      [401, { ok: false, error_code: 401, description: 'Unauthorized' }, expectPermanent],
      [403, { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' }, expectPermanent],
    ];
    for (const [status, body, expectation] of cases) {
      server.script(path, [{ status, body }]);
      const error = await failure(() => sender().send({ chatId: '@acme_news', text: 'Hi' }, context('telegram')));
      expectation(error);
      expect(error.message).not.toContain(botToken);
    }
    const port = await closedPort();
    const down = await failure(() => createTelegramSender({ botToken, baseUrl: `http://127.0.0.1:${port}` }).send({ chatId: 1, text: 'x' }, context('telegram')));
    expectRetryable(down);
    expect(down.message).not.toContain(botToken);
  });

  it('a 200 whose body is cut off is delivered, not retried: Telegram has no idempotency key, a retry would be a second message', async () => {
    const cut = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
        res.write('{"ok":true,"result":{"message_id":4');
        setTimeout(() => res.socket?.destroy(), 20);
      });
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    try {
      const baseUrl = `http://127.0.0.1:${(cut.address() as AddressInfo).port}`;
      expect(await createTelegramSender({ botToken, baseUrl }).send({ chatId: 99, text: 'Server is down' }, context('telegram'))).toEqual({ providerMessageId: '' });
    } finally {
      cut.closeAllConnections();
      await new Promise<void>((resolve) => cut.close(() => resolve()));
    }
  });
});
