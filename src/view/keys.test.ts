import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyWriter, nameLength, readTime, TIME_BASE_MS } from './keys.js';

const MAX_MS = Date.UTC(2300, 0, 1) - 1;

/** ClickHouse's order of (timestamp, event_id): time, then the id's UTF-8 bytes. */
function clickhouseOrder(a: [number, string], b: [number, string]): number {
  return a[0] - b[0] || Buffer.compare(Buffer.from(a[1], 'utf8'), Buffer.from(b[1], 'utf8'));
}

const key = (user: string, ts: number, id: string) => new KeyWriter().name(user).time(ts).id(id).copy();

describe('view keys', () => {
  it("order a user's events by time, then by the event id's UTF-8 bytes, as ClickHouse does", () => {
    const id = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('', 'a', 'ab', 'b', '\uffff', '😀'));
    const event = fc.tuple(fc.integer({ min: TIME_BASE_MS, max: MAX_MS }), id);
    fc.assert(
      fc.property(event, event, (a, b) => {
        if (a[0] === b[0] && a[1] === b[1]) return true;
        const byKey = Math.sign(Buffer.compare(key('u', a[0], a[1]), key('u', b[0], b[1])));
        return byKey === Math.sign(clickhouseOrder(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  it("keep each user's keys apart: no key of one user falls in another user's range", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 90 }), fc.string({ maxLength: 90 }), fc.integer({ min: TIME_BASE_MS, max: MAX_MS }), fc.string(), (a, b, ts, id) => {
        if (a === b) return true;
        const prefix = new KeyWriter().name(b).copy();
        const k = key(a, ts, id);
        return !k.subarray(0, prefix.length).equals(prefix);
      }),
      { numRuns: 3000 },
    );
  });

  it('hash long user keys, event names and ids into bounded keys that still read back their time', () => {
    const long = 'ü'.repeat(5000);
    const k = new KeyWriter().name(long).time(Date.UTC(2026, 0, 1)).id('x'.repeat(3000)).copy();
    expect(k.length).toBeLessThan(500);
    expect(readTime(k, nameLength(k, 0))).toBe(Date.UTC(2026, 0, 1));
    expect(new KeyWriter().name(long).copy().equals(new KeyWriter().name(`${long}x`).copy())).toBe(false);
  });

  it('read back the time written, across its whole range', () => {
    fc.assert(fc.property(fc.integer({ min: TIME_BASE_MS, max: MAX_MS }), (ts) => readTime(key('u', ts, 'i'), 2) === ts));
  });
});
