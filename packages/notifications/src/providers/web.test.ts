import { createRedisConnection, loadRedisConfig } from '@platform/redis';
import { deleteKeysByPrefix, uniquePrefix, waitFor } from '@platform/testing';
import type { SendContext } from '../sender';
import { createWebInbox, createWebSender, webInboxKeys, type WebNotification } from './web';

// ioredis' own slot function (CRC16 of the hash tag), the one a Cluster client routes by.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;
const redis = createRedisConnection(loadRedisConfig(), { role: 'producer' });
const keyPrefix = uniquePrefix('nweb');

afterAll(async () => {
  await deleteKeysByPrefix(redis, `${keyPrefix}:`);
  await redis.quit();
});

function context(idempotencyKey: string, tenantId = 'acme'): SendContext {
  return { idempotencyKey, tenantId, channel: 'web', type: 'lead-created', dedupeKey: idempotencyKey, jobId: idempotencyKey, attempt: 1, signal: undefined };
}

describe('web in-app notifications in Redis', () => {
  it("keeps a user's three keys in one hash slot (the push script touches all three: cluster rule)", () => {
    for (const [prefix, tenantId, userId] of [['', 'acme', 'u1'], ['svc', 'globex', 'user{with}braces:and:colons']] as const) {
      const keys = webInboxKeys(prefix, tenantId, userId);
      const slots = new Set([keys.list, keys.unread, keys.ids].map((key) => calculateSlot(key)));
      expect(slots.size).toBe(1);
    }
    expect(webInboxKeys('', 'acme', 'u1')).toEqual({ list: 'notify-web:{acme:u1}:items', unread: 'notify-web:{acme:u1}:unread', ids: 'notify-web:{acme:u1}:ids', channel: 'notify-web:acme:u1' });
  });

  it('stores newest first, bounded, with a TTL; a retry of one id changes nothing; unread count and mark read', async () => {
    const sender = createWebSender({ connection: redis, keyPrefix, maxItems: 3, ttlSeconds: 600 });
    const inbox = createWebInbox({ connection: redis, keyPrefix });
    for (let i = 1; i <= 4; i++) {
      expect(await sender.send({ userId: 'u1', title: `Lead ${i}`, body: `New lead ${i}`, url: `https://app.acme.test/leads/${i}` }, context(`n-${i}`))).toEqual({ providerMessageId: `n-${i}` });
    }
    // A retry after a lost answer: same id, nothing stored twice.
    await sender.send({ userId: 'u1', title: 'Lead 4', body: 'New lead 4' }, context('n-4'));
    const items = await inbox.list('acme', 'u1');
    expect(items.map((i) => i.id)).toEqual(['n-4', 'n-3', 'n-2']);
    expect(items[0]).toMatchObject({ type: 'lead-created', title: 'Lead 4', body: 'New lead 4', url: 'https://app.acme.test/leads/4', read: false });
    expect(await inbox.unreadCount('acme', 'u1')).toBe(3);
    const ttl = await redis.pttl(`${keyPrefix}:notify-web:{acme:u1}:items`);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);

    expect(await inbox.markRead('acme', 'u1', ['n-3', 'n-1'])).toBe(1);
    expect(await inbox.unreadCount('acme', 'u1')).toBe(2);
    expect((await inbox.list('acme', 'u1')).map((i) => i.read)).toEqual([false, true, false]);
    expect(await inbox.markRead('acme', 'u1', 'all')).toBe(2);
    expect(await inbox.unreadCount('acme', 'u1')).toBe(0);
    // Other users and tenants are separate.
    expect(await inbox.list('acme', 'u2')).toEqual([]);
    expect(await inbox.list('other', 'u1')).toEqual([]);
  });

  it('publishes each new notification to the user’s subscribers, once', async () => {
    const sender = createWebSender({ connection: redis, keyPrefix });
    const inbox = createWebInbox({ connection: redis, keyPrefix });
    const seen: WebNotification[] = [];
    const stop = await inbox.subscribe('acme', 'live', (n) => seen.push(n));
    try {
      await sender.send({ userId: 'live', title: 'Hello', body: 'You have a new lead' }, context('live-1'));
      await sender.send({ userId: 'live', title: 'Hello', body: 'You have a new lead' }, context('live-1'));
      await sender.send({ userId: 'someone-else', title: 'Not yours', body: 'x' }, context('live-2'));
      await waitFor(() => seen.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen.map((n) => [n.id, n.title])).toEqual([['live-1', 'Hello']]);
    } finally {
      await stop();
    }
  });
});
