import { describe, expect, it } from 'vitest';
import { inStorableRange, MAX_TIME_MS, MIN_TIME_MS, parseIsoTime } from './time.js';

describe('parseIsoTime', () => {
  it('reads the ISO 8601 forms SDKs send, to the millisecond', () => {
    const cases: [string, string][] = [
      ['2024-03-05T10:20:30.123Z', '2024-03-05T10:20:30.123Z'],
      ['2024-03-05T10:20:30Z', '2024-03-05T10:20:30.000Z'],
      ['2024-03-05T10:20Z', '2024-03-05T10:20:00.000Z'],
      ['2024-03-05', '2024-03-05T00:00:00.000Z'],
      ['2024-03-05 10:20:30', '2024-03-05T10:20:30.000Z'],
      ['2024-03-05T10:20:30.1Z', '2024-03-05T10:20:30.100Z'],
      ['2024-03-05T10:20:30.123456789Z', '2024-03-05T10:20:30.123Z'],
      ['2024-03-05T10:20:30,5Z', '2024-03-05T10:20:30.500Z'],
      ['2024-03-05T10:20:30+02:00', '2024-03-05T08:20:30.000Z'],
      ['2024-03-05T10:20:30-0530', '2024-03-05T15:50:30.000Z'],
      ['2024-03-05T10:20:30+01', '2024-03-05T09:20:30.000Z'],
      ['2024-02-29T00:00:00z', '2024-02-29T00:00:00.000Z'],
    ];
    for (const [text, iso] of cases) expect([text, parseIsoTime(text)]).toEqual([text, Date.parse(iso)]);
  });

  it('gives NaN for anything else, including forms Date.parse would take', () => {
    for (const text of [
      '',
      'yesterday',
      'March 7 2020',
      '2020/03/07',
      '2024-13-01',
      '2024-02-30',
      '2023-02-29',
      '2024-03-05T24:00:00Z',
      '2024-03-05T10:60:00Z',
      '2024-03-05T10:20:30.Z',
      '2024-03-05T10:20:30Q',
      '2024-03-05T10:20:30Z trailing',
      '2024-3-5',
      '1700000000000',
    ]) {
      expect([text, parseIsoTime(text)]).toEqual([text, NaN]);
    }
  });

  it('reads years before 100 as such, not as 19xx', () => {
    expect(new Date(parseIsoTime('0050-06-01T00:00:00Z')).getUTCFullYear()).toBe(50);
    expect(inStorableRange(parseIsoTime('0050-06-01T00:00:00Z'))).toBe(false);
  });

  it('the storable range is exactly what ClickHouse DateTime64(3) holds', () => {
    expect(inStorableRange(parseIsoTime('1900-01-01T00:00:00Z'))).toBe(true);
    expect(inStorableRange(parseIsoTime('1899-12-31T23:59:59.999Z'))).toBe(false);
    expect(inStorableRange(parseIsoTime('2299-12-31T23:59:59.999Z'))).toBe(true);
    expect(inStorableRange(parseIsoTime('2300-01-01T00:00:00Z'))).toBe(false);
    expect(MAX_TIME_MS - MIN_TIME_MS).toBeGreaterThan(0);
  });
});
