import { describe, expect, it } from 'vitest';
import { EVENT_TIME, parseIsoTime, timeRange, typedTime, type IsoTimeProblem } from './isotime.js';

const event = (text: string) => parseIsoTime(text, EVENT_TIME);
const TYPED = typedTime(timeRange(Date.UTC(1900, 0, 1), Date.UTC(2300, 0, 1)));
/** A typed time's Unix ms, or the reason it is refused. */
const typed = (text: string): number | string => {
  const why: IsoTimeProblem = { reason: '' };
  const t = parseIsoTime(text, TYPED, why);
  return Number.isNaN(t) ? why.reason : t;
};

describe('event times (EVENT_TIME: SDK payloads, the ingest hot path)', () => {
  it('reads the ISO 8601 forms SDKs send, to the millisecond', () => {
    const cases: [string, string][] = [
      ['2024-03-05T10:20:30.123Z', '2024-03-05T10:20:30.123Z'],
      ['2024-03-05T10:20:30Z', '2024-03-05T10:20:30.000Z'],
      ['2024-03-05T10:20Z', '2024-03-05T10:20:00.000Z'],
      ['2024-03-05', '2024-03-05T00:00:00.000Z'],
      ['2024-03-05 10:20:30', '2024-03-05T10:20:30.000Z'],
      ['2024-03-05T10:20:30.1Z', '2024-03-05T10:20:30.100Z'],
      ['2024-03-05T10:20:30.123456789Z', '2024-03-05T10:20:30.123Z'],
      ['2024-03-05T10:20:30.1239999999999Z', '2024-03-05T10:20:30.123Z'],
      ['2024-03-05T10:20:30,5Z', '2024-03-05T10:20:30.500Z'],
      ['2024-03-05T10:20:30+02:00', '2024-03-05T08:20:30.000Z'],
      ['2024-03-05T10:20:30-0530', '2024-03-05T15:50:30.000Z'],
      ['2024-03-05T10:20:30+01', '2024-03-05T09:20:30.000Z'],
      ['2024-02-29T00:00:00z', '2024-02-29T00:00:00.000Z'],
    ];
    for (const [text, iso] of cases) expect([text, event(text)]).toEqual([text, Date.parse(iso)]);
  });

  it('agrees with Date.parse on random times, repeated days and day changes alike', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const pad = (v: number, w: number) => String(v).padStart(w, '0');
    let t = Date.UTC(1990, 0, 1);
    for (let i = 0; i < 5_000; i++) {
      // Mostly a few seconds on (the same day, as in a batch), sometimes days or years on.
      t += rnd(10) < 8 ? rnd(5_000) : rnd(10) < 8 ? rnd(5 * 86_400_000) : rnd(3_000) * 86_400_000;
      const d = new Date(t);
      const offset = rnd(3) === 0 ? 'Z' : `${rnd(2) === 0 ? '+' : '-'}${pad(rnd(14), 2)}:${pad(rnd(4) * 15, 2)}`;
      const text = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}${offset}`;
      const got = event(text);
      if (got !== Date.parse(text)) expect([text, got]).toEqual([text, Date.parse(text)]);
    }
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
      '2024-03-05T10:20:30+02:',
      '2024-03-05Z',
      '2024-03-05T10:20:30 02:00',
      '2024-3-5',
      '1700000000000',
    ]) {
      expect([text, event(text)]).toEqual([text, NaN]);
    }
  });

  it('reads years before 100 as such, not as 19xx', () => {
    expect(new Date(event('0050-06-01T00:00:00Z')).getUTCFullYear()).toBe(50);
  });
});

describe('typed times (typedTime: query from/to, replay --from)', () => {
  it.each([
    ['2026-08-01', Date.UTC(2026, 7, 1)],
    ['2026-08-01T12:30:00Z', Date.UTC(2026, 7, 1, 12, 30)],
    ['2026-08-01T12:30Z', Date.UTC(2026, 7, 1, 12, 30)],
    ['2026-08-01 12:30:00z', Date.UTC(2026, 7, 1, 12, 30)],
    ['2026-08-01T12:30:00.123Z', Date.UTC(2026, 7, 1, 12, 30, 0, 123)],
    ['2026-08-01T12:30:00,5Z', Date.UTC(2026, 7, 1, 12, 30, 0, 500)],
    ['2026-08-01T12:30:00+02:00', Date.UTC(2026, 7, 1, 10, 30)],
    ['2026-08-01T12:30:00-0530', Date.UTC(2026, 7, 1, 18, 0)],
    ['2026-08-01T12:30:00+02', Date.UTC(2026, 7, 1, 10, 30)],
    // An unencoded "+" in a query string arrives as a space.
    ['2026-08-01T12:30:00 02:00', Date.UTC(2026, 7, 1, 10, 30)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['1900-01-01', Date.UTC(1900, 0, 1)],
    ['2299-12-31T23:59:59.999Z', Date.UTC(2299, 11, 31, 23, 59, 59, 999)],
  ])('reads %s', (text, ms) => {
    expect(typed(text)).toBe(ms);
  });

  it('rounds a sub-millisecond fraction up, so inclusive and exclusive bounds stay exact on whole-ms timestamps', () => {
    expect(typed('2026-08-01T00:00:00.0001Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 0, 1));
    expect(typed('2026-08-01T00:00:00.123000001Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 0, 124));
    expect(typed('2026-08-01T00:00:00.999999Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 1, 0));
  });

  it.each([
    ['', 'ISO 8601'],
    ['yesterday', 'ISO 8601'],
    ['1785715204', 'ISO 8601'],
    ['2026-8-1', 'ISO 8601'],
    ['2026-08-01T12:30:00', 'needs a zone'],
    ['2026-08-01T24:00', 'needs a zone'],
    ['2026-13-01', 'month'],
    ['2026-02-29', 'day'],
    ['2026-04-31T00:00:00Z', 'day'],
    ['2026-08-01T24:00:00Z', 'time of day'],
    ['2026-08-01T12:60:00Z', 'time of day'],
    ['2026-08-01T12:00:60Z', 'time of day'],
    ['2026-08-01T12:00:00+24:00', 'offset'],
    ['0099-01-01', 'out of range (1900-01-01 to 2299-12-31, UTC)'],
    ['0099-13-01', 'out of range'],
    ['1899-12-31T23:59:59Z', 'out of range'],
    ['1900-01-01T00:00:00+01:00', 'out of range'],
    ['2300-01-01', 'out of range'],
    ['2026-13-01 garbage', 'ISO 8601'],
    ['2026-08-01T12:00:00.1234567891Z', 'ISO 8601'],
    ["2026-08-01' OR 1=1 --", 'ISO 8601'],
  ])('refuses %j, saying why', (text, reason) => {
    const r = typed(text);
    expect(typeof r).toBe('string');
    expect(r).toContain(reason);
  });
});
