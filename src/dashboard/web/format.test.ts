// The dashboard's number and time formatting (format.ts), checked in Node: it uses no DOM.
import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtCount, fmtInt, fmtRate, fmtUtc, fmtUtcRange, localInputToIso } from './format.js';

describe('formatting', () => {
  it('numbers, rates, bytes and times', () => {
    expect(fmtInt(1234567)).toBe('1,234,567');
    expect(fmtInt(null)).toBe('—');
    expect(fmtRate(0.333)).toBe('0.33');
    expect(fmtRate(12.34)).toBe('12.3');
    expect(fmtRate(1234.5)).toBe('1,235');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(64 * 1024 * 1024)).toBe('64 MiB');
    expect(fmtUtc('2026-08-01T12:34:56.789Z')).toBe('2026-08-01 12:34:56.789 UTC');
  });

  // The rollups table's caption once said "1 rows".
  it('a count with its noun: singular for one only', () => {
    expect(['row', 'event', 'partition'].map((noun, i) => fmtCount([1, 0, 1234][i]!, noun))).toEqual(['1 row', '0 events', '1,234 partitions']);
  });

  it('a datetime-local value becomes an ISO instant; empty or nonsense is no bound', () => {
    expect(localInputToIso('2026-08-01T12:00', () => Date.UTC(2026, 7, 1, 10))).toBe('2026-08-01T10:00:00.000Z');
    expect(localInputToIso('')).toBeNull();
    expect(localInputToIso('not a time')).toBeNull();
  });
});

describe('the UTC range a status line states', () => {
  // The timeline's From and To are typed in the browser's zone: the status says the UTC instants the API got.
  it('says each bound present, in UTC', () => {
    expect(fmtUtcRange(null, null)).toBe('');
    expect(fmtUtcRange('2026-08-01T07:00:00.000Z', null)).toBe(' from 2026-08-01 07:00:00.000 UTC');
    expect(fmtUtcRange(null, '2026-08-02T07:00:00.000Z')).toBe(' before 2026-08-02 07:00:00.000 UTC');
    expect(fmtUtcRange('2026-08-01T07:00:00.000Z', '2026-08-02T07:00:00.000Z')).toBe(' from 2026-08-01 07:00:00.000 UTC up to 2026-08-02 07:00:00.000 UTC');
  });
});
