// exactjson.ts in Node: which numbers keep their digits, and that without source text access
// (Node 20, older browsers) parsing is exactly JSON.parse. The browsers' own JSON.rawJSON is
// exercised by test/integration/dashboard-browser.test.ts and dashboard-firefox.test.ts.
import { describe, expect, it } from 'vitest';
import { keepDigits, parseExact, roundedInteger, type RawJson } from './exactjson.js';

/** Stands in for JSON.rawJSON: a marker holding the text it was given. */
const raw = (text: string): RawJson => Object.freeze({ rawJSON: text });

describe('integers past 2^53 in the API\'s JSON', () => {
  it('keeps the digits of an integer literal its double rounds, in and past 2^53..2^64', () => {
    for (const source of ['12345678901234567891', '-9223372036854775808', '9007199254740993', '18446744073709551615', '123456789012345678901234567890']) {
      expect(roundedInteger(JSON.parse(source) as number, source), source).toBe(true);
    }
  });

  it('leaves numbers alone whose double prints back as sent, and every non-integer literal', () => {
    for (const source of ['0', '42', '-7', '9007199254740991', '9007199254740992', '100000000000000000000', '1.5', '1e21', '12345678901234567891.0', '1.2345678901234567e+19', '-0']) {
      expect(roundedInteger(JSON.parse(source) as number, source), source).toBe(false);
    }
  });

  it('turns only values that are numbers into raw JSON: a string of digits stays a string', () => {
    expect(roundedInteger('12345678901234567891', '"12345678901234567891"')).toBe(false);
    const revive = keepDigits(raw);
    expect(revive('id', 12345678901234567000, { source: '12345678901234567891' })).toEqual({ rawJSON: '12345678901234567891' });
    expect(revive('n', 3, { source: '3' })).toBe(3);
    expect(revive('s', '12345678901234567891', { source: '"12345678901234567891"' })).toBe('12345678901234567891');
    const obj = { a: 1 };
    expect(revive('o', obj, {})).toBe(obj);
  });

  it('leaves the value as JSON.parse made it where the engine gives no source (no context)', () => {
    expect(keepDigits(raw)('id', 12345678901234567000)).toBe(12345678901234567000);
  });

  it('is JSON.parse without source text access: same values, wide integers rounded as before', () => {
    const text = '{"events":[{"properties":{"order_id":12345678901234567891,"min":-9223372036854775808,"n":2,"r":0.5}}],"next_cursor":null}';
    const parsed = parseExact(text, null);
    expect(parsed).toEqual(JSON.parse(text));
    expect(JSON.stringify(parsed)).toBe('{"events":[{"properties":{"order_id":12345678901234567000,"min":-9223372036854776000,"n":2,"r":0.5}}],"next_cursor":null}');
    expect(() => parseExact('<html>', null)).toThrow(SyntaxError);
  });

  it('uses the reviver it is given on every value of the text', () => {
    const seen: string[] = [];
    const parsed = parseExact('{"a":[1,{"b":12345678901234567891}]}', (key, value) => {
      seen.push(key);
      return typeof value === 'number' ? -value : value;
    });
    expect(parsed).toEqual({ a: [-1, { b: -12345678901234567000 }] });
    expect(seen).toEqual(['0', 'b', '1', 'a', '']);
  });
});
