import { InvalidArgumentError } from '@platform/redis';
import { uniquePrefix, waitFor } from '@platform/testing';
import { circuitKey, createCircuitBreaker, getProviderHealth, listProviderHealth, resolveCircuitBreaker } from './circuit';
import { NotificationSendError } from './errors';
import { notifyOnce } from './notify';
import { resolveNotificationQueue } from './queues';
import type { NotificationSender } from './sender';
import { getNotificationStatus } from './status';
import { createNotificationWorker } from './worker';
import { useNotificationTestContext } from './test-support';

const { redis, workerConnection, prefixes, workers } = useNotificationTestContext();


function keyPrefix(): string {
  const prefix = uniquePrefix('ncb');
  prefixes.push(prefix);
  return prefix;
}


describe('circuit breaker transitions (one Lua script each)', () => {
  it('opens after the threshold, holds callers, lets one probe through per interval, closes on success', async () => {
    const prefix = keyPrefix();
    // Long enough that a loaded machine cannot let the open time pass between two calls below.
    const OPEN_MS = 1500;
    const breaker = createCircuitBreaker(redis, circuitKey(prefix, 'sms', 'twilio'), resolveCircuitBreaker({ failureThreshold: 3, openMs: OPEN_MS, probeTimeoutMs: 5000 }));
    expect(await breaker.allow()).toEqual({ allowed: true, probe: false });
    expect(await breaker.failure('503')).toEqual({ open: false, waitMs: 0 });
    expect(await breaker.failure('503')).toEqual({ open: false, waitMs: 0 });
    expect(await breaker.failure('503 again')).toEqual({ open: true, waitMs: OPEN_MS });
    const held = await breaker.allow();
    expect(held.allowed).toBe(false);
    expect((held as { waitMs: number }).waitMs).toBeLessThanOrEqual(OPEN_MS);
    expect(await getProviderHealth('sms', 'twilio', { connection: redis, keyPrefix: prefix })).toMatchObject({ state: 'open', consecutiveFailures: 3, trips: 1, probes: 0, lastError: '503 again' });

    await new Promise((resolve) => setTimeout(resolve, OPEN_MS + 50));
    // One probe; everyone else keeps holding until its outcome is known.
    const results = await Promise.all([breaker.allow(), breaker.allow(), breaker.allow()]);
    expect(results.filter((r) => r.allowed)).toEqual([{ allowed: true, probe: true }]);
    expect(await getProviderHealth('sms', 'twilio', { connection: redis, keyPrefix: prefix })).toMatchObject({ state: 'half-open', probes: 1 });
    // The probe fails: open again for another interval (not a new trip).
    expect((await breaker.failure('still down')).open).toBe(true);
    expect((await breaker.allow()).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, OPEN_MS + 50));
    expect(await breaker.allow()).toEqual({ allowed: true, probe: true });
    await breaker.success();
    expect(await breaker.allow()).toEqual({ allowed: true, probe: false });
    expect(await getProviderHealth('sms', 'twilio', { connection: redis, keyPrefix: prefix })).toMatchObject({ state: 'closed', consecutiveFailures: 0, trips: 1, probes: 2 });
  });

  it('a failure of a call that started before the breaker opened does not end a running probe: still one probe at a time', async () => {
    const prefix = keyPrefix();
    const OPEN_MS = 300;
    const breaker = createCircuitBreaker(redis, circuitKey(prefix, 'email', 'resend'), resolveCircuitBreaker({ failureThreshold: 1, openMs: OPEN_MS, probeTimeoutMs: 10_000 }));
    // A call goes out while closed and takes long; another one fails and opens the breaker.
    expect(await breaker.allow()).toEqual({ allowed: true, probe: false });
    expect((await breaker.failure('503')).open).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, OPEN_MS + 50));
    expect(await breaker.allow()).toEqual({ allowed: true, probe: true });
    // The slow call fails now, while the probe is running: its job is held until the probe's outcome.
    const stale = await breaker.failure('timeout', false);
    expect(stale.open).toBe(true);
    expect(stale.waitMs).toBeGreaterThan(OPEN_MS);
    expect(await getProviderHealth('email', 'resend', { connection: redis, keyPrefix: prefix })).toMatchObject({ state: 'half-open', probes: 1, trips: 1 });
    await new Promise((resolve) => setTimeout(resolve, OPEN_MS + 50));
    // No second probe while the first has neither answered nor timed out.
    expect((await breaker.allow()).allowed).toBe(false);
    // The probe's own failure opens it again.
    expect((await breaker.failure('still down', true)).open).toBe(true);
    expect(await getProviderHealth('email', 'resend', { connection: redis, keyPrefix: prefix })).toMatchObject({ state: 'open', probes: 1, trips: 1 });
  });

  it('listProviderHealth finds every breaker under the key prefix, sorted, and nothing else', async () => {
    const prefix = keyPrefix();
    const settings = resolveCircuitBreaker({ failureThreshold: 1, openMs: 60_000 });
    await createCircuitBreaker(redis, circuitKey(prefix, 'sms', 'twilio'), settings).failure('503');
    const resend = createCircuitBreaker(redis, circuitKey(prefix, 'email', 'resend'), settings);
    await resend.failure('503');
    await resend.success();
    await redis.set(`${prefix}:notify-circuit:pigeon:coop`, '1');
    const listed = await listProviderHealth({ connection: redis, keyPrefix: prefix });
    expect(listed.map((h) => [h.channel, h.provider, h.state, h.trips])).toEqual([
      ['email', 'resend', 'closed', 1],
      ['sms', 'twilio', 'open', 1],
    ]);
    expect(await listProviderHealth({ connection: redis, keyPrefix: keyPrefix() })).toEqual([]);
  });

  it('a provider never called reads as closed; bad arguments are refused', async () => {
    expect(await getProviderHealth('email', 'smtp', { connection: redis, keyPrefix: keyPrefix() })).toEqual({ channel: 'email', provider: 'smtp', state: 'closed', consecutiveFailures: 0, trips: 0, probes: 0 });
    await expect(getProviderHealth('pigeon' as never, 'smtp')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(getProviderHealth('email', 'no spaces')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => resolveCircuitBreaker({ failureThreshold: 0 })).toThrow(InvalidArgumentError);
  });
});

describe('workers share the breaker through Redis', () => {
  it('during an outage the workers stop calling the provider and hold jobs without spending attempts; all delivered after it recovers', async () => {
    const prefix = keyPrefix();
    let down = true;
    let calls = 0;
    let callsWhileDown = 0;
    const delivered = new Map<string, number>();
    const sender: NotificationSender<'sms'> = {
      provider: 'flaky-sms',
      async send(_message, context) {
        calls += 1;
        if (down) {
          callsWhileDown += 1;
          throw new NotificationSendError('flaky-sms answered 503: maintenance', { retryable: true, status: 503 });
        }
        delivered.set(context.idempotencyKey, (delivered.get(context.idempotencyKey) ?? 0) + 1);
        return { providerMessageId: `sms-${delivered.size}` };
      },
    };
    for (let i = 0; i < 2; i++) {
      workers.push(
        createNotificationWorker('sms', sender, {
          connection: workerConnection,
          keyPrefix: prefix,
          handleSignals: false,
          concurrency: 4,
          circuitBreaker: { failureThreshold: 3, openMs: 250, probeTimeoutMs: 2000 },
        }),
      );
    }
    const options = { connection: redis, keyPrefix: prefix, retry: { attempts: 4, delayMs: 50, maxDelayMs: 200 } };
    const jobIds: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { jobId } = await notifyOnce({ tenantId: `tenant-${i % 3}`, type: 'alert', dedupeKey: `a-${i}`, channel: 'sms', payload: { to: '+4915112345678', body: `Alert ${i}` } }, options);
      jobIds.push(jobId!);
    }
    const held = await waitFor(async () => {
      for (const id of jobIds) {
        const status = await getNotificationStatus(id, options);
        if (status?.state === 'deferred') return status;
      }
      return undefined;
    });
    expect(held).toMatchObject({ state: 'deferred', reason: 'circuit-open' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // About six probe intervals: the threshold's failures, calls already in flight, and one probe per interval.
    expect(callsWhileDown).toBeLessThan(30);
    expect((await getProviderHealth('sms', 'flaky-sms', options)).trips).toBeGreaterThanOrEqual(1);

    down = false;
    await waitFor(() => delivered.size === 30, 20_000);
    const queue = resolveNotificationQueue('sms', options).queue;
    await waitFor(async () => (await queue.getCompletedCount()) === 30, 10_000);
    expect(await queue.getFailedCount()).toBe(0);
    const jobs = await Promise.all(jobIds.map((id) => queue.getJob(id)));
    expect(Math.max(...jobs.map((j) => j!.attemptsMade))).toBeLessThanOrEqual(2);
    expect([...delivered.values()].every((n) => n === 1)).toBe(true);
    expect(await getProviderHealth('sms', 'flaky-sms', options)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(calls).toBe(callsWhileDown + 30);
  });
});
