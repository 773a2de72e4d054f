import { describe, expect, it } from 'vitest';
import { ceilToDay, parseIsoTime, utcDay } from './time.js';

describe('parseIsoTime', () => {
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
  ])('reads %s', (text, ms) => {
    expect(parseIsoTime(text)).toBe(ms);
  });

  it('rounds a sub-millisecond fraction up, so inclusive and exclusive bounds stay exact on whole-ms timestamps', () => {
    expect(parseIsoTime('2026-08-01T00:00:00.0001Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 0, 1));
    expect(parseIsoTime('2026-08-01T00:00:00.123000001Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 0, 124));
    expect(parseIsoTime('2026-08-01T00:00:00.999999Z')).toBe(Date.UTC(2026, 7, 1, 0, 0, 1, 0));
  });

  it.each([
    ['', 'ISO 8601'],
    ['yesterday', 'ISO 8601'],
    ['1785715204', 'ISO 8601'],
    ['2026-8-1', 'ISO 8601'],
    ['2026-08-01T12:30:00', 'needs a zone'],
    ['2026-13-01', 'month'],
    ['2026-02-29', 'day'],
    ['2026-04-31T00:00:00Z', 'day'],
    ['2026-08-01T24:00:00Z', 'time of day'],
    ['2026-08-01T12:60:00Z', 'time of day'],
    ['2026-08-01T12:00:60Z', 'time of day'],
    ['2026-08-01T12:00:00+24:00', 'offset'],
    ['0099-01-01', 'out of range'],
    ['1899-12-31T23:59:59Z', 'out of range'],
    ['2300-01-01', 'out of range'],
    ['2026-08-01T12:00:00.1234567891Z', 'ISO 8601'],
    ["2026-08-01' OR 1=1 --", 'ISO 8601'],
  ])('refuses %j', (text, reason) => {
    const r = parseIsoTime(text);
    expect(typeof r).toBe('string');
    expect(r).toContain(reason);
  });
});

describe('day helpers', () => {
  it('ceilToDay keeps midnights and moves other instants to the next midnight', () => {
    expect(ceilToDay(Date.UTC(2026, 7, 1))).toBe(Date.UTC(2026, 7, 1));
    expect(ceilToDay(Date.UTC(2026, 7, 1, 0, 0, 0, 1))).toBe(Date.UTC(2026, 7, 2));
    expect(utcDay(Date.UTC(2026, 7, 1, 23, 59))).toBe('2026-08-01');
  });
});
