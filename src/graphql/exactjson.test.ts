import { describe, expect, it } from 'vitest';
import { exactStringify, parseExact, restoreDigits, withoutMarkers } from './exactjson.js';

const WIDE = '12345678901234567891'; // JSON.parse reads 12345678901234567000

describe('JSON with integers past 2^53 through parse and stringify', () => {
  it('writes such integers back as sent, and everything else as JSON.stringify(JSON.parse()) does', () => {
    const cases: [string, string][] = [
      [`{"id":${WIDE},"min":-9223372036854775808,"max":18446744073709551615}`, `{"id":${WIDE},"min":-9223372036854775808,"max":18446744073709551615}`],
      // Safe integers of 16 digits, fractions and exponents are numbers as JSON.parse reads them.
      ['{"safe":9007199254740991,"f":1234567890123456.7,"e":12345678901234567e3,"n":1.50}', '{"safe":9007199254740991,"f":1234567890123456.8,"e":12345678901234567000,"n":1.5}'],
      // Digits inside strings (and escaped quotes before them) are text.
      [`{"s":"${WIDE}","q":"a\\"${WIDE}","k${WIDE}":[${WIDE}, 1]}`, `{"s":"${WIDE}","q":"a\\"${WIDE}","k${WIDE}":[${WIDE},1]}`],
      [WIDE, WIDE],
      ['{"a": 1, "b": [true, null]}', '{"a":1,"b":[true,null]}'],
    ];
    for (const [text, want] of cases) expect(exactStringify(text), text).toBe(want);
  });

  it('keeps the digits of every text of one answer in one list, and a sender\'s look-alike string as it is', () => {
    const digits: string[] = [];
    const a = parseExact(`{"a":${WIDE}}`, digits);
    const b = parseExact(`{"b":[-${WIDE}],"fake":"\\u0000abc:0"}`, digits);
    expect(digits).toEqual([WIDE, `-${WIDE}`]);
    expect(restoreDigits(JSON.stringify({ a, b }), digits)).toBe(`{"a":{"a":${WIDE}},"b":{"b":[-${WIDE}],"fake":"\\u0000abc:0"}}`);
    // For an answer written elsewhere: the numbers JSON.parse reads.
    expect(withoutMarkers({ a, b }, digits)).toEqual({ a: { a: Number(WIDE) }, b: { b: [-Number(WIDE)], fake: '\u0000abc:0' } });
  });

  it('keeps a member named __proto__ as an own member when it takes the markers out, prototype untouched', () => {
    const digits: string[] = [];
    // JSON.parse makes __proto__ an own member; an assignment would set the copy's prototype instead.
    const value = parseExact(`{"__proto__":{"id":${WIDE},"x":1},"b":{"__proto__":"s"}}`, digits);
    const out = withoutMarkers(value, digits) as Record<string, unknown>;
    expect(JSON.stringify(out)).toBe(`{"__proto__":{"id":${Number(WIDE)},"x":1},"b":{"__proto__":"s"}}`);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'b']);
    expect((out as { x?: unknown }).x).toBeUndefined();
  });

  it('throws on what JSON.parse throws on', () => {
    expect(() => parseExact(`{"a":${WIDE}`, [])).toThrow(SyntaxError);
    expect(() => parseExact('not json', [])).toThrow(SyntaxError);
  });
});
