import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PropertyReader } from './props.js';

const top = (o: Record<string, unknown>, k: string): unknown => {
  const v = Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
  return v !== null && typeof v === 'object' ? undefined : v;
};

describe('PropertyReader', () => {
  it('reads the same top-level values as JSON.parse, for any object, key order and spacing', () => {
    const keys = ['total', 'price', 'category', 'a"b', 'ü'];
    const reader = new PropertyReader(keys);
    const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.string({ unit: 'binary' }), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ unit: 'binary', maxLength: 6 })), value, { maxKeys: 8 }), fc.boolean(), (obj, pretty) => {
        const text = JSON.stringify(obj, null, pretty ? 2 : undefined);
        const buf = Buffer.from(`  ${text} `);
        expect(reader.read(buf, 0, buf.length)).toBe(true);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        keys.forEach((k, i) => expect(reader.values[i]).toEqual(top(parsed, k)));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads numbers as JSON.parse does (fast path and fallback), and odd values as it would', () => {
    const reader = new PropertyReader(['total', 'category']);
    const ok = ['0', '-0', '7', '-7', '0.5', '-0.5', '123.45', '19.99', '0.1', '0.30000000000000004', '999999999999999', '9999999999999999', '123456789012345.6', '1.0000000000000000000001', '0.0000000000000000000001', '1e3', '1E-7', '-2.5e+300', '1e400'];
    for (const n of ok) {
      const text = `{"total":${n},"category":"x"}`;
      const buf = Buffer.from(text);
      expect(reader.read(buf, 0, buf.length)).toBe(true);
      expect(Object.is(reader.values[0], JSON.parse(text).total)).toBe(true);
    }
    // Not JSON numbers: JSON.parse would throw on these; the member reads as nothing.
    for (const n of ['01', '-01', '1.', '.5', '+1', '-', '1.2.3', '0x10', '1e', 'NaN', 'Infinity', 'tru']) {
      const buf = Buffer.from(`{"total":${n},"category":"x"}`);
      reader.read(buf, 0, buf.length);
      expect(reader.values[0]).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), fc.float({ noNaN: true, noDefaultInfinity: true }), fc.integer().map((i) => i / 100)), fc.string({ unit: 'grapheme' }), (total, category) => {
        const text = JSON.stringify({ total, category, rest: [total] });
        const buf = Buffer.from(text);
        expect(reader.read(buf, 0, buf.length)).toBe(true);
        const parsed = JSON.parse(text) as { total: number; category: string };
        expect(Object.is(reader.values[0], parsed.total)).toBe(true);
        expect(reader.values[1]).toBe(parsed.category);
      }),
      { numRuns: 3000 },
    );
    // A string total is a string (a sum ignores it), missing members are undefined.
    const buf = Buffer.from('{"total":"12.5","other":1}');
    reader.read(buf, 0, buf.length);
    expect(reader.values).toEqual(['12.5', undefined]);
  });

  it('reads nothing from what is not an object', () => {
    const reader = new PropertyReader(['total']);
    for (const text of ['[1]', '"x"', '', '{"total":', '{"total":1']) {
      const buf = Buffer.from(text);
      expect(reader.read(buf, 0, buf.length)).toBe(false);
    }
  });

  it('leaves a value nested below the top level alone', () => {
    const reader = new PropertyReader(['total']);
    const buf = Buffer.from('{"order":{"total":5},"items":[{"total":3}],"x":"\\"total\\":9"}');
    expect(reader.read(buf, 0, buf.length)).toBe(true);
    expect(reader.values[0]).toBeUndefined();
  });
});
