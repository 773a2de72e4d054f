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
