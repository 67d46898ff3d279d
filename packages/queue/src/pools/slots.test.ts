import { uniquePrefix, waitFor } from '@platform/testing';
import { z } from 'zod';
import { defineQueue } from '../define-queue';
import { createWorker } from '../worker';
import { useQueueTestContext } from '../test-support';
import { defineConcurrencyPool, type ConcurrencyPool } from './pool';
import { POOL_HANDOUT_OPTION, PoolSlots } from './slots';
import { fairScripts } from '../fairness/scripts';

const { redis, workerConnection, prefixes } = useQueueTestContext();

function slotsWithLease(leaseMs: number): PoolSlots {
  const pool = { name: 'p', key: 'p', max: 1, leaseMs } as unknown as ConcurrencyPool;
  return new PoolSlots('q', [pool], () => {
    throw new Error('no Redis call expected');
  });
}

const startedAt = (handedOutAtMs: number) => ({ opts: { [POOL_HANDOUT_OPTION]: handedOutAtMs }, attemptsStarted: 1 });

describe('PoolSlots.handedOut: the hand-out age on the Redis clock', () => {
  it('a host whose clock runs 10 s behind Redis does not take slots handed out 5 s ago (lease 3 s) for live ones, once it has read the Redis clock', () => {
    const slots = slotsWithLease(3000);
    const redisNow = Date.now() + 10_000;
    const job = startedAt(redisNow - 5000);
    // On its own clock the hand-out looks 5 s in the future: taken for fresh.
    expect(slots.handedOut(job)).toBe(true);
    const sent = Date.now();
    slots.observeRedisClock(redisNow, sent, sent + 2);
    expect(slots.handedOut(job)).toBe(false);
    // A hand-out 100 ms ago on the Redis clock is still live (within leaseMs / 3).
    expect(slots.handedOut(startedAt(redisNow - 100))).toBe(true);
  });

  it('a host whose clock runs ahead of Redis still starts a fresh hand-out on its slots', () => {
    const slots = slotsWithLease(3000);
    const redisNow = Date.now() - 10_000;
    const sent = Date.now();
    slots.observeRedisClock(redisNow, sent, sent);
    expect(slots.handedOut(startedAt(redisNow - 100))).toBe(true);
    expect(slots.handedOut(startedAt(redisNow - 2000))).toBe(false);
  });

  it('ignores a reading that cannot be one (not a number, answered before it was sent), and only the first attempt holds hand-out slots', () => {
    const slots = slotsWithLease(3000);
    slots.observeRedisClock(Number.NaN, Date.now(), Date.now());
    slots.observeRedisClock(Date.now() + 60_000, Date.now(), Date.now() - 10);
    expect(slots.handedOut(startedAt(Date.now() - 100))).toBe(true);
    expect(slots.handedOut({ ...startedAt(Date.now() - 100), attemptsStarted: 2 })).toBe(false);
    expect(slots.handedOut({ opts: {}, attemptsStarted: 1 })).toBe(false);
  });

  it("a fair worker's heartbeat feeds its queue's pool slots the Redis clock", async () => {
    const prefix = uniquePrefix('slots');
    prefixes.push(prefix);
    const pool = defineConcurrencyPool({ name: 'clock', max: 4, leaseMs: 5000, keyPrefix: prefix });
    const q = defineQueue({ namespace: 'agent', name: 'clock', schema: z.object({ n: z.number() }), prefix, connection: redis, fairness: 'per-tenant', pools: [pool] });
    const readings: number[][] = [];
    const observe = jest.spyOn(PoolSlots.prototype, 'observeRedisClock').mockImplementation(function (this: PoolSlots, ...args: [number, number, number]) {
      readings.push(args);
    });
    // The test's Redis shares this host's clock: its heartbeat answer is shifted by a minute, so a
    // scheduler that fed its own clock instead of the reply would be seen.
    const run = fairScripts.heartbeat.run.bind(fairScripts.heartbeat);
    const heartbeat = jest.spyOn(fairScripts.heartbeat, 'run').mockImplementation(async (...args: Parameters<typeof run>) => {
      const [total, redisNow] = await run(...args);
      return [total, Number(redisNow) + 60_000];
    });
    const worker = createWorker(q, async () => undefined, { connection: workerConnection, handleSignals: false });
    try {
      await waitFor(() => readings.length > 0, 5000);
      const [redisMs, sent, received] = readings[0]!;
      expect(received).toBeGreaterThanOrEqual(sent!);
      const ahead = redisMs! - (sent! + received!) / 2;
      expect(ahead).toBeGreaterThan(59_000);
      expect(ahead).toBeLessThan(61_000);
    } finally {
      heartbeat.mockRestore();
      observe.mockRestore();
      await worker.close();
      await q.close();
    }
  });
});
