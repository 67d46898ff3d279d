import { loadRedisConfig } from './config';
import { ConfigError } from './errors';
import { bullPrefixFor, loadKeyPrefix, namespacedKey, resolveKeyPrefix } from './namespace';

describe('key namespace', () => {
  it('has no prefix by default, so keys are exactly the documented patterns', () => {
    expect(loadKeyPrefix({})).toBe('');
    expect(loadKeyPrefix({ REDIS_KEY_PREFIX: '  ' })).toBe('');
    expect(namespacedKey('', 'notify', 't1', 'welcome', 'user:42')).toBe('notify:t1:welcome:user%3A42');
    expect(bullPrefixFor('')).toBe('bull');
  });

  it('puts one prefix in front of every key and of BullMQ', () => {
    expect(loadKeyPrefix({ REDIS_KEY_PREFIX: 'acme' })).toBe('acme');
    expect(resolveKeyPrefix(undefined, { REDIS_KEY_PREFIX: 'acme' })).toBe('acme');
    // An explicit prefix wins over the environment, '' included.
    expect(resolveKeyPrefix('', { REDIS_KEY_PREFIX: 'acme' })).toBe('');
    expect(resolveKeyPrefix('other', { REDIS_KEY_PREFIX: 'acme' })).toBe('other');
    expect(namespacedKey('acme', 'ratelimit', 't1', 'openai')).toBe('acme:ratelimit:t1:openai');
    expect(bullPrefixFor('acme')).toBe('acme:bull');
    expect(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_KEY_PREFIX: 'acme' }).keyPrefix).toBe('acme');
    expect(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:1' }).keyPrefix).toBe('');
  });

  it.each(['a:b', '{tag}', 'has space', 'x'.repeat(65)])('refuses %j with a ConfigError naming the variable', (value) => {
    expect(() => loadKeyPrefix({ REDIS_KEY_PREFIX: value })).toThrow(ConfigError);
    expect(() => loadKeyPrefix({ REDIS_KEY_PREFIX: value })).toThrow(/REDIS_KEY_PREFIX/);
    expect(() => resolveKeyPrefix(value)).toThrow(ConfigError);
    expect(() => resolveKeyPrefix(undefined, { REDIS_KEY_PREFIX: value })).toThrow(/REDIS_KEY_PREFIX/);
  });
});
