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

  it('never produces the same key for a space followed by hex digits and a Unicode space', () => {
    // U+2000 (EN QUAD) and U+2028 (LINE SEPARATOR) are whitespace; ' ' is escaped as %20.
    expect(redisKey('\u2000')).not.toBe(redisKey(' 00'));
    expect(redisKey('a\u2028b')).not.toBe(redisKey('a 28b'));
    expect(redisKey('\u00A0')).not.toBe(redisKey('%A0'));
    const spaces = ['\t', '\n', ' ', '\u00A0', '\u1680', '\u2000', '\u2028', '\u202F', '\u3000', '\uFEFF'];
    const part = fc.array(fc.oneof(fc.constantFrom(...spaces), fc.constantFrom('0', '2', '8', 'A', 'F', '%')), { maxLength: 6 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(part, part, (a, b) => {
        fc.pre(a !== b);
        expect(redisKey(a)).not.toBe(redisKey(b));
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
