import { InvalidArgumentError } from '@platform/redis';
import { uniquePrefix } from '@platform/testing';
import { resumeKey } from './keys';
import { createResumeCache } from './resume-cache';
import { testRedis } from './test-helpers';

const { redis, prefix, cleanup } = testRedis('resume');
const cache = createResumeCache({ redis, keyPrefix: prefix });

afterAll(cleanup);

describe('createResumeCache', () => {
  it('remembers a Claude session id for 7 days under claude_session:{activityId}', async () => {
    await cache.remember('act-1', 'b6f0c3a2-1d4e-4f5a-9c8b-7e6d5c4b3a21');
    expect(await redis.get(`${prefix}:claude_session:act-1`)).toBe('b6f0c3a2-1d4e-4f5a-9c8b-7e6d5c4b3a21');
    const ttl = await redis.ttl(resumeKey(prefix, 'act-1'));
    expect(ttl).toBeGreaterThanOrEqual(604_799);
    expect(ttl).toBeLessThanOrEqual(604_800);
    expect(cache.ttlSeconds).toBe(604_800);
  });

  it('lookup returns the latest id, forget removes it, unknown activities give null', async () => {
    await cache.remember('act-2', 'first');
    await cache.remember('act-2', 'second');
    expect(await cache.lookup('act-2')).toBe('second');
    expect(await cache.forget('act-2')).toBe(true);
    expect(await cache.lookup('act-2')).toBeNull();
    expect(await cache.forget('act-2')).toBe(false);
  });

  it('activity ids with separators are escaped into one key part', async () => {
    await cache.remember('project:42/step 1', 'sess-a');
    expect(await cache.lookup('project:42/step 1')).toBe('sess-a');
    expect(await redis.exists(`${prefix}:claude_session:project%3A42/step%201`)).toBe(1);
    expect(await cache.lookup('project')).toBeNull();
  });

  it('without a prefix the key is exactly claude_session:{activityId}', async () => {
    const plain = createResumeCache({ redis, keyPrefix: '' });
    const activityId = uniquePrefix('activity');
    await plain.remember(activityId, 'sess');
    try {
      expect(await redis.get(`claude_session:${activityId}`)).toBe('sess');
    } finally {
      await redis.del(`claude_session:${activityId}`);
    }
  });

  it('refuses bad activity ids, session ids and options with InvalidArgumentError', async () => {
    for (const call of [
      () => cache.remember('', 's'),
      () => cache.remember('a\nb', 's'),
      () => cache.remember('act', ''),
      () => cache.remember('act', 'has space'),
      () => cache.lookup(7 as unknown as string),
      () => cache.forget('x'.repeat(257)),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => createResumeCache({ redis, ttlSeconds: -1 })).toThrow(InvalidArgumentError);
  });
});
