import { describe, expect, it } from 'vitest';
import { decodeCursor } from './cursor.js';
import { parseEventsRequest } from './params.js';
import { RowBinaryReader } from './rowbinary.js';
import { renderEventsPage, renderRollups } from './store.js';

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([varint(b.length), b]);
};
const i64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
};
const row = (ts: number, id: string) => Buffer.concat([str(JSON.stringify({ id, ts })), i64(ts), str(id)]);

describe('RowBinaryReader', () => {
  it('reads multi-byte lengths, unicode and negative Int64', () => {
    const long = 'é'.repeat(300);
    const r = new RowBinaryReader(Buffer.concat([str(long), i64(-2208988800000), str('')]));
    expect(r.string()).toBe(long);
    expect(r.int64()).toBe(-2208988800000);
    expect(r.bytes().length).toBe(0);
    expect(r.done).toBe(true);
  });

  it('throws on a truncated result instead of reading past it', () => {
    const whole = str('hello');
    expect(() => new RowBinaryReader(whole.subarray(0, 3)).string()).toThrow(/past the end/);
  });
});

describe('renderEventsPage', () => {
  const limits = { defaultLimit: 100, maxLimit: 1000 };

  it('serves limit rows and a cursor after the last one when an extra row came back', () => {
    const r = parseEventsRequest('u', 'limit=2', limits);
    const page = JSON.parse(renderEventsPage(Buffer.concat([row(30, 'c'), row(20, 'b'), row(10, 'a')]), r).toString());
    expect(page.events).toEqual([{ id: 'c', ts: 30 }, { id: 'b', ts: 20 }]);
    expect(decodeCursor(page.next_cursor, r.fingerprint)).toEqual({ ts: 20, id: 'b' });
  });

  it('says null when the rows ran out, and renders an empty page', () => {
    const r = parseEventsRequest('u', 'limit=2', limits);
    expect(JSON.parse(renderEventsPage(Buffer.concat([row(30, 'c'), row(20, 'b')]), r).toString()).next_cursor).toBeNull();
    expect(renderEventsPage(Buffer.alloc(0), r).toString()).toBe('{"events":[],"next_cursor":null}');
  });

  it('collapses exact duplicates and still points the cursor after the last row read', () => {
    const r = parseEventsRequest('u', 'limit=2', limits);
    const page = JSON.parse(renderEventsPage(Buffer.concat([row(30, 'c'), row(30, 'c'), row(20, 'b')]), r).toString());
    expect(page.events).toEqual([{ id: 'c', ts: 30 }, { id: 'b', ts: 20 }]);
    expect(decodeCursor(page.next_cursor, r.fingerprint)).toEqual({ ts: 20, id: 'b' });
    // Same timestamp, other id: two events.
    const two = JSON.parse(renderEventsPage(Buffer.concat([row(30, 'd'), row(30, 'c')]), r).toString());
    expect(two.events).toHaveLength(2);
  });
});

describe('renderRollups', () => {
  it('joins rendered rows into {"rows":[...]}', () => {
    expect(renderRollups(Buffer.concat([str('{"a":1}'), str('{"a":2}')])).toString()).toBe('{"rows":[{"a":1},{"a":2}]}');
    expect(renderRollups(Buffer.alloc(0)).toString()).toBe('{"rows":[]}');
  });
});
