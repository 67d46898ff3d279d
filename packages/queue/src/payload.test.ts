import { PayloadTooLargeError, PayloadValidationError } from './errors';
import { checkPayloadSize, jsonSizeBound } from './payload';

const exactBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

describe('checkPayloadSize', () => {
  it('is exact at the limit: a payload of exactly maxBytes passes, one byte more throws with the exact size', () => {
    const payload = (n: number) => ({ tenantId: 'acme', text: 'é'.repeat(n) });
    const limit = exactBytes(payload(500));
    expect(() => checkPayloadSize('q', payload(500), limit)).not.toThrow();
    const over = payload(501);
    let thrown: unknown;
    try {
      checkPayloadSize('q', over, limit);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PayloadTooLargeError);
    expect((thrown as Error).message).toContain(String(exactBytes(over)));
  });

  it('never lets an oversized payload through, whatever it holds (escapes, surrogates, nesting)', () => {
    const awkward = [
      { s: '\u0000\u0001"\\'.repeat(300) },
      { s: '\ud800'.repeat(300) },
      { s: '😀'.repeat(300) },
      { a: Array.from({ length: 200 }, (_, i) => ({ [`k${i}`]: i * 1.000001e-300 })) },
      { deep: JSON.parse('['.repeat(60) + '"' + 'x'.repeat(2000) + '"' + ']'.repeat(60)) as unknown },
    ];
    for (const value of awkward) {
      const bytes = exactBytes(value);
      expect(() => checkPayloadSize('q', value, bytes - 1)).toThrow(PayloadTooLargeError);
      expect(() => checkPayloadSize('q', value, bytes)).not.toThrow();
    }
  });
  it('refuses a value JSON would not keep as it is, naming every path, with a PayloadValidationError', () => {
    const circular: Record<string, unknown> = { tenantId: 'acme' };
    circular.self = { back: circular };
    const cases: Array<[unknown, string[]]> = [
      [{ tenantId: 'acme', n: 10n }, ['n']],
      [circular, ['self.back']],
      [{ tenantId: 'acme', at: new Date(0) }, ['at']],
      [{ tenantId: 'acme', list: ['x', undefined, NaN, Infinity] }, ['list.1', 'list.2', 'list.3']],
      [{ tenantId: 'acme', input: { m: new Map([[1, 2]]), s: new Set([1]), f: () => 1, b: Buffer.from('x') } }, ['input.m', 'input.s', 'input.f', 'input.b']],
    ];
    for (const [value, paths] of cases) {
      let thrown: unknown;
      try {
        checkPayloadSize('q', value, 1_000_000);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PayloadValidationError);
      expect((thrown as PayloadValidationError).issues.map((issue) => issue.path)).toEqual(paths);
    }
    // Plain JSON passes, shared (not circular) references included; undefined properties are just left out.
    const shared = { a: 1 };
    expect(() => checkPayloadSize('q', { tenantId: 'acme', x: shared, y: [shared, null], z: undefined, o: Object.create(null) as object }, 1_000_000)).not.toThrow();
  });
});

describe('jsonSizeBound', () => {
  it('is an upper bound of the JSON bytes of every value it bounds', () => {
    const values: unknown[] = [
      'plain', '\n\t\u0007', '"quoted"', 'ü€𝄞', '\udfff', -2.2250738585072014e-308, 1e21, NaN, true, null,
      { tenantId: 'acme', activityId: 'a-1', input: {} },
      [undefined, () => 1, Symbol('s'), { nested: ['x', 1, false] }],
      { omitted: undefined, f: () => 1 },
      new Map([[1, 2]]),
      Object.assign(Object.create({ inherited: 'x'.repeat(100) }) as object, { own: 1 }),
    ];
    for (const value of values) expect(jsonSizeBound(value, Infinity, 0)).toBeGreaterThanOrEqual(exactBytes(value));
  });

  it('gives up (Infinity) past its budget or on values it does not bound', () => {
    expect(jsonSizeBound({ s: 'x'.repeat(100) }, 50, 0)).toBe(Infinity);
    expect(jsonSizeBound({ d: new Date(0) }, 1e9, 0)).toBe(Infinity);
    expect(jsonSizeBound(10n, 1e9, 0)).toBe(Infinity);
  });
});
