import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { isDeferral } from '@platform/redis';
import { NotificationSendError } from '../errors';
import type { SendContext } from '../sender';
import { closedPort } from './fake-http';
import { createSmtpSender, type SmtpSender } from './smtp';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

const PASSWORD = 'smtp-password-secret';
const received: Received[] = [];
let server: SMTPServer;
let port: number;
const senders: SmtpSender[] = [];

function rejection(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

beforeAll(async () => {
  // A real SMTP server (smtp-server) on 127.0.0.1: AUTH PLAIN/LOGIN without TLS, recipients that
  // answer the way mail servers do.
  server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'mailer' && auth.password === PASSWORD) return callback(null, { user: 'mailer' });
      if (auth.username === 'echo') {
        // A server that quotes what the client sent (AUTH PLAIN's base64, the password's base64).
        const plain = Buffer.from(`\0${auth.username}\0${auth.password}`).toString('base64');
        const login = Buffer.from(auth.password ?? '').toString('base64');
        return callback(rejection(535, `5.7.8 Authentication failed for ${plain} (${login})`));
      }
      return callback(rejection(535, '5.7.8 Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('unknown@')) return callback(rejection(550, '5.1.1 No such user'));
      if (address.address.startsWith('busy@')) return callback(rejection(451, '4.3.0 Mailbox temporarily unavailable'));
      return callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const sender of senders) sender.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function sender(auth = { user: 'mailer', pass: PASSWORD }, at = port): SmtpSender {
  const created = createSmtpSender({ host: '127.0.0.1', port: at, auth, from: 'Acme <noreply@acme.test>', timeoutMs: 3000 });
  senders.push(created);
  return created;
}

function context(idempotencyKey: string): SendContext {
  return { idempotencyKey, tenantId: 'acme', channel: 'email', type: 'welcome', dedupeKey: 'u1', jobId: idempotencyKey, attempt: 1, signal: undefined };
}

async function failure(send: () => Promise<unknown>): Promise<NotificationSendError> {
  const error = await send().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotificationSendError);
  expect(isDeferral(error)).toBe(false);
  expect((error as Error).message).not.toContain(PASSWORD);
  return error as NotificationSendError;
}

describe('SMTP over nodemailer against a real SMTP server', () => {
  it('delivers with AUTH; the Message-ID is <idempotency key@sender domain> and the provider id', async () => {
    const result = await sender().send({ to: ['ada@example.test', 'bob@example.test'], subject: 'Welcome', text: 'Hello Ada', replyTo: 'help@acme.test' }, context('notify-email-abc'));
    expect(result).toEqual({ providerMessageId: '<notify-email-abc@acme.test>' });
    const mail = received.at(-1)!;
    expect(mail.from).toBe('noreply@acme.test');
    expect(mail.to).toEqual(['ada@example.test', 'bob@example.test']);
    expect(mail.raw).toMatch(/^Message-ID: <notify-email-abc@acme\.test>$/m);
    expect(mail.raw).toMatch(/^X-Idempotency-Key: notify-email-abc$/m);
    expect(mail.raw).toMatch(/^Subject: Welcome$/m);
    expect(mail.raw).toMatch(/^Reply-To: help@acme\.test$/m);
    expect(mail.raw).toContain('Hello Ada');
  });

  it('550 unknown recipient fails for good; 451 is retried', async () => {
    const unknown = await failure(() => sender().send({ to: 'unknown@example.test', subject: 'S', text: 'T' }, context('k-550')));
    expect(unknown.retryable).toBe(false);
    expect(unknown.message).toMatch(/550/);
    const busy = await failure(() => sender().send({ to: 'busy@example.test', subject: 'S', text: 'T' }, context('k-451')));
    expect(busy.retryable).toBe(true);
    expect(busy.message).toMatch(/451/);
  });

  it('a message some recipients refused is not reported delivered: the refused ones are named, temporary refusals retried', async () => {
    const permanent = await failure(() => sender().send({ to: ['ada@example.test', 'unknown@example.test'], subject: 'S', text: 'T' }, context('k-partial-550')));
    expect(permanent.retryable).toBe(false);
    expect(permanent.message).toContain('unknown@example.test');
    expect(permanent.message).toMatch(/550/);
    const temporary = await failure(() => sender().send({ to: ['ada@example.test', 'busy@example.test'], subject: 'S', text: 'T' }, context('k-partial-451')));
    expect(temporary.retryable).toBe(true);
    expect(temporary.message).toContain('busy@example.test');
  });

  it('a server that echoes the AUTH exchange gets no credential into the message, in plain or base64', async () => {
    const pass = 'echo-password-secret';
    const error = await failure(() => sender({ user: 'echo', pass }).send({ to: 'ada@example.test', subject: 'S', text: 'T' }, context('k-echo')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/535/);
    expect(error.message).not.toContain(Buffer.from(`\0echo\0${pass}`).toString('base64'));
    expect(error.message).not.toContain(Buffer.from(pass).toString('base64'));
  });

  it('bad credentials fail for good without the password in the message; no server is retryable', async () => {
    const auth = await failure(() => sender({ user: 'mailer', pass: 'wrong-password' }).send({ to: 'ada@example.test', subject: 'S', text: 'T' }, context('k-auth')));
    expect(auth.retryable).toBe(false);
    expect(auth.message).toMatch(/535/);
    const nowhere = await failure(async () => sender(undefined, await closedPort()).send({ to: 'ada@example.test', subject: 'S', text: 'T' }, context('k-down')));
    expect(nowhere.retryable).toBe(true);
  });
});
