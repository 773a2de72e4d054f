import { describe, expect, it } from 'vitest';
import { decodeCursor, scopeFingerprint } from './cursor.js';
import { parseEventsRequest, parseRollupsRequest } from './params.js';
import { RowBinaryReader } from './rowbinary.js';
import { parseEventRows, renderPage, renderRollups } from './querystore.js';
import type { EventsRequest } from './params.js';

const renderEventsPage = (result: Buffer, r: EventsRequest) => renderPage(parseEventRows(result), r);

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
const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
/** One row in the column order of sql.ts EVENT_COLUMNS. */
const row = (ts: number, id: string, o: { properties?: string; propertiesOk?: number; userId?: string } = {}) =>
  Buffer.concat([
    str(id), str('track'), str('Clicked'), str(o.userId ?? 'u'), str(''), i64(ts), i64(ts + 5), str('web'), str(''), str('g1'),
    str(o.properties ?? '{"a":1}'), str(''), str('{}'), str(''), str(''), u8(o.propertiesOk ?? 1), u8(0), u8(1),
  ]);
const ids = (page: { events: { event_id: string }[] }) => page.events.map((e) => e.event_id);

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
    expect(ids(page)).toEqual(['c', 'b']);
    expect(decodeCursor(page.next_cursor, scopeFingerprint(r))).toEqual({ ts: 20, id: 'b' });
  });

  it('says null when the rows ran out, and renders an empty page', () => {
    const r = parseEventsRequest('u', 'limit=2', limits);
    expect(JSON.parse(renderEventsPage(Buffer.concat([row(30, 'c'), row(20, 'b')]), r).toString()).next_cursor).toBeNull();
    expect(renderEventsPage(Buffer.alloc(0), r).toString()).toBe('{"events":[],"next_cursor":null}');
  });

  it('collapses exact duplicates and still points the cursor after the last row read', () => {
    const r = parseEventsRequest('u', 'limit=2', limits);
    const page = JSON.parse(renderEventsPage(Buffer.concat([row(30, 'c'), row(30, 'c'), row(20, 'b')]), r).toString());
    expect(ids(page)).toEqual(['c', 'b']);
    expect(decodeCursor(page.next_cursor, scopeFingerprint(r))).toEqual({ ts: 20, id: 'b' });
    // Same timestamp, other id: two events.
    const two = JSON.parse(renderEventsPage(Buffer.concat([row(30, 'd'), row(30, 'c')]), r).toString());
    expect(two.events).toHaveLength(2);
  });
});

describe('renderEventsPage output', () => {
  it('writes every field of the contract, absent strings as null, times as ISO UTC with milliseconds', () => {
    const r = parseEventsRequest('u', '', { defaultLimit: 100, maxLimit: 1000 });
    const page = JSON.parse(renderEventsPage(row(Date.UTC(2026, 7, 1, 12), 'e"1', { userId: 'ü\n"x' }), r).toString());
    expect(page.events[0]).toEqual({
      event_id: 'e"1', type: 'track', event: 'Clicked', user_id: 'ü\n"x', anonymous_id: null,
      timestamp: '2026-08-01T12:00:00.000Z', received_at: '2026-08-01T12:00:00.005Z', source: 'web', category: null,
      group_id: 'g1', properties: { a: 1 }, traits: null, context: {}, name: null, previous_id: null,
    });
  });

  it('writes null for a JSON text ClickHouse found invalid, so the reply stays valid JSON', () => {
    const r = parseEventsRequest('u', '', { defaultLimit: 100, maxLimit: 1000 });
    const body = renderEventsPage(row(1, 'x', { properties: '{"broken":', propertiesOk: 0 }), r).toString();
    expect(JSON.parse(body).events[0].properties).toBeNull();
  });
});

describe('renderRollups', () => {
  it('writes day, key (the type for non-track rows), events and users', () => {
    const day = Date.UTC(2026, 7, 1) / 86_400_000;
    const rows = Buffer.concat([u16(day), str('page'), str(''), u64(3), u64(2), u16(day + 1), str('track'), str('Order "X"'), u64(5), u64(1)]);
    expect(JSON.parse(renderRollups(rows, parseRollupsRequest('by=event')).toString())).toEqual({
      rows: [
        { day: '2026-08-01', type: 'page', key: 'page', events: 3, users: 2 },
        { day: '2026-08-02', type: 'track', key: 'Order "X"', events: 5, users: 1 },
      ],
    });
    const byGroup = Buffer.concat([u16(day), str('org-1'), u64(7), u64(4)]);
    expect(JSON.parse(renderRollups(byGroup, parseRollupsRequest('by=group')).toString())).toEqual({ rows: [{ day: '2026-08-01', key: 'org-1', events: 7, users: 4 }] });
    expect(renderRollups(Buffer.alloc(0), parseRollupsRequest('by=category')).toString()).toBe('{"rows":[]}');
  });
});
