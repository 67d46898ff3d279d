import fc from 'fast-check';
import { describeValue, InvalidArgumentError } from './errors';
import { assertTenantId, redisKey } from './keys';

describe('redisKey', () => {
  it('joins parts with ":" and escapes separators and glob/hash-tag characters inside parts', () => {
    expect(redisKey('notify', 'acme', 'welcome', 'user:42')).toBe('notify:acme:welcome:user%3A42');
    expect(redisKey('a{b}', 'c*?[d]', 'e f', '100%')).toBe('a%7Bb%7D:c%2A%3F%5Bd%5D:e%20f:100%25');
    expect(redisKey('lock', 'activity', 7)).toBe('lock:activity:7');
  });

  it('never produces the same key for two different tuples (property)', () => {
    const part = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(':', '%', '%3A', '{', '}', ' ', '::', '%25'));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), fc.array(part, { minLength: 1, maxLength: 5 }), (a, b) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        expect(redisKey(...a)).not.toBe(redisKey(...b));
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses no parts and non-finite numbers', () => {
    expect(() => redisKey()).toThrow(InvalidArgumentError);
    expect(() => redisKey('a', Number.NaN)).toThrow(InvalidArgumentError);
  });
});

describe('assertTenantId', () => {
  it.each(['acme', 'tenant_1', 'a.b-c@d', '6f1c2a9e-1b2c-4d5e-8f90-123456789abc'])('accepts %s', (id) => {
    expect(() => assertTenantId(id)).not.toThrow();
  });
  it.each(['', 'a:b', 'with space', 'x'.repeat(129), 42, null, undefined])('refuses %j', (id) => {
    expect(() => assertTenantId(id)).toThrow(InvalidArgumentError);
  });
});

describe('describeValue', () => {
  it('describes any value without throwing', () => {
    for (const value of [{ toString: 0 }, Object.create(null), Symbol('s'), () => 1, [1], null, undefined, 'x'.repeat(100), 12n, 3.5]) {
      expect(typeof describeValue(value)).toBe('string');
    }
    expect(describeValue('a:b')).toBe('"a:b"');
    expect(describeValue({ toString: 0 })).toBe('an object');
  });
});
