import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8, mergeIntoWindow, pageFromWindow, type EventRow, type PageQuery } from './userwindow.js';

describe('compareUtf8', () => {
  it('orders strings as their UTF-8 bytes do (as ClickHouse compares Strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 2000 },
    );
    // The case UTF-16 order gets wrong: U+FFFD (3 UTF-8 bytes, EF..) < U+1F600 (F0..).
    expect(compareUtf8('\uFFFD', '😀')).toBeLessThan(0);
    expect('\uFFFD' < '😀').toBe(false);
  });
});

/** The page as ClickHouse computes it over all of a user's rows. */
function reference(all: readonly EventRow[], q: PageQuery): EventRow[] {
  return all
    .filter((r) => (q.from === null || r.ts >= q.from) && (q.to === null || r.ts < q.to))
    .filter((r) => (q.type === null || r.type === q.type) && (q.event === null || r.event === q.event))
    .filter((r) => q.cursor === null || r.ts < q.cursor.ts || (r.ts === q.cursor.ts && compareUtf8(r.id, q.cursor.id) < 0))
    .slice(0, q.limit + 1);
}

const rowArb = fc.record({
  ts: fc.integer({ min: 0, max: 40 }),
  id: fc.constantFrom('a', 'b', 'c', 'é', '😀', '\uFFFD', 'aa'),
  type: fc.constantFrom('track', 'page'),
  event: fc.constantFrom('X', 'Y', ''),
});

describe('pageFromWindow', () => {
  it('gives exactly the rows ClickHouse would whenever it decides, and always decides on a complete window', () => {
    fc.assert(
      fc.property(
        fc.array(rowArb, { maxLength: 40 }),
        fc.integer({ min: 0, max: 45 }),
        fc.record({
          from: fc.option(fc.integer({ min: 0, max: 41 })),
          to: fc.option(fc.integer({ min: 0, max: 41 })),
          type: fc.option(fc.constantFrom('track', 'page')),
          event: fc.option(fc.constantFrom('X', 'Y')),
          limit: fc.integer({ min: 1, max: 10 }),
          cursor: fc.option(fc.record({ ts: fc.integer({ min: 0, max: 41 }), id: fc.constantFrom('a', 'b', 'é', '😀') })),
        }),
        (raw, size, q) => {
          // All of the user's rows, newest first as ClickHouse orders them (duplicates kept).
          const all: EventRow[] = raw
            .map((r) => ({ ...r, json: Buffer.from(r.id) }))
            .sort((x, y) => y.ts - x.ts || -compareUtf8(x.id, y.id));
          const window = { rows: all.slice(0, size), complete: size >= all.length };
          const got = pageFromWindow(window, q);
          const want = reference(all, q);
          if (window.complete) expect(got).not.toBeNull();
          if (got !== null) expect(got).toEqual(want);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('decides from a partial window when enough rows match or the range ends inside it', () => {
    const rows: EventRow[] = [30, 20, 10].map((ts, i) => ({ ts, id: `e${i}`, type: 'track', event: 'X', json: Buffer.alloc(0) }));
    const w = { rows, complete: false };
    const q = { from: null, to: null, type: null, event: null, cursor: null };
    expect(pageFromWindow(w, { ...q, limit: 2 })?.map((r) => r.ts)).toEqual([30, 20, 10]);
    expect(pageFromWindow(w, { ...q, limit: 3 })).toBeNull();
    expect(pageFromWindow(w, { ...q, limit: 3, from: 15 })?.map((r) => r.ts)).toEqual([30, 20]);
    expect(pageFromWindow(w, { ...q, limit: 3, from: 10 })).toBeNull(); // a row at 10 may lie beyond the window
  });
});

describe('mergeIntoWindow', () => {
  const key = (r: EventRow) => `${r.ts}|${r.id}`;
  const sorted = (rows: EventRow[]) => [...rows].sort((x, y) => y.ts - x.ts || -compareUtf8(x.id, y.id));

  it('gives the window a fresh load would give after new rows landed, pages included', () => {
    fc.assert(
      fc.property(
        fc.array(rowArb, { maxLength: 30 }),
        fc.array(rowArb, { maxLength: 8 }),
        fc.integer({ min: 1, max: 35 }),
        fc.integer({ min: 1, max: 40 }),
        fc.record({ limit: fc.integer({ min: 1, max: 10 }), from: fc.option(fc.integer({ min: 0, max: 41 })), type: fc.option(fc.constantFrom('track', 'page')) }),
        (rawOld, rawNew, size, maxRows, q) => {
          const old = sorted(rawOld.map((r) => ({ ...r, json: Buffer.from(r.id) })));
          const added = rawNew.map((r) => ({ ...r, json: Buffer.from(r.id) }));
          const all = sorted([...old, ...added]);
          const before = { rows: old.slice(0, size), complete: size >= old.length };
          const after = mergeIntoWindow(before, [...added], Math.max(maxRows, size));
          // Always the user's newest rows, in ClickHouse's order...
          expect(after.rows.map(key)).toEqual(all.slice(0, after.rows.length).map(key));
          // ...all of them when it says so...
          if (after.complete) expect(after.rows).toHaveLength(all.length);
          expect(after.rows.length).toBeLessThanOrEqual(Math.max(maxRows, size));
          // ...and every page it decides is the page ClickHouse would give.
          const page = { ...q, to: null, event: null, cursor: null };
          const got = pageFromWindow(after, page);
          if (got !== null) expect(got.map(key)).toEqual(reference(all, page).map(key));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('leaves out of a partial window a new row older than all its rows', () => {
    const r = (ts: number, id: string): EventRow => ({ ts, id, type: 'track', event: 'X', json: Buffer.alloc(0) });
    const partial = { rows: [r(30, 'a'), r(20, 'a')], complete: false };
    expect(mergeIntoWindow(partial, [r(10, 'a'), r(40, 'a'), r(25, 'a')], 10).rows.map((x) => x.ts)).toEqual([40, 30, 25, 20]);
    const complete = { rows: [r(30, 'a'), r(20, 'a')], complete: true };
    expect(mergeIntoWindow(complete, [r(10, 'a')], 10)).toEqual({ rows: [r(30, 'a'), r(20, 'a'), r(10, 'a')], complete: true });
    expect(mergeIntoWindow(complete, [r(10, 'a'), r(40, 'a')], 3)).toEqual({ rows: [r(40, 'a'), r(30, 'a'), r(20, 'a')], complete: false });
  });
});
