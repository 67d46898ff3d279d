import { z } from 'zod';
import * as zod3 from 'zod/v3';
import { InvalidArgumentError } from './errors';
import { checkZodObjectSchema, redactUrlPassword } from './internal';

describe('checkZodObjectSchema', () => {
  it('accepts a zod 4 object schema', () => {
    expect(() => checkZodObjectSchema(z.object({ a: z.string() }), 'schema', 'defineQueue(x__y)', '@platform/queue')).not.toThrow();
  });

  it.each([
    ['a string schema', z.string()],
    ['a plain object', { shape: {} }],
    ['null', null],
  ])('refuses %s, naming the call', (_label, value) => {
    const error = (() => {
      try {
        checkZodObjectSchema(value, 'schema', 'defineQueue(x__y)', '@platform/queue');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/defineQueue\(x__y\): must be a zod object schema/);
  });

  it('refuses a zod 3 object schema, naming the package that needs zod 4', () => {
    expect(() => checkZodObjectSchema(zod3.z.object({ a: zod3.z.string() }), 'schema', 'createSessionStore', '@platform/sessions')).toThrow(
      /createSessionStore: this schema was made with zod 3, and @platform\/sessions needs zod 4/,
    );
  });
});

describe('redactUrlPassword', () => {
  it.each([
    ['redis://:s3cret@host:6379/0', 'redis://:***@host:6379/0'],
    ['rediss://user:s3cret@host:6380', 'rediss://user:***@host:6380'],
    ['postgres://app:s3cret@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['redis://host:6379', 'redis://host:6379'],
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrlPassword(url)).toBe(redacted);
  });

  it('hides the credentials of a URL that does not parse, even when the password holds "/" or "@"', () => {
    const redacted = redactUrlPassword('redis://user:pa/ss@wo rd@host:bad-port');
    expect(redacted).not.toMatch(/pa\/ss|wo rd/);
    expect(redacted).toContain('//***@');
  });
});
