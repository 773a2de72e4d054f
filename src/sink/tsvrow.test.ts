import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { valueSymbol } from 'piscina';
import { describe, expect, it } from 'vitest';
import { eventRecord } from '../../test/support/events.js';
import { encodeTsvRow, escapeTsv, EventCodec, EVENT_TYPES, loadSchemaVersions, type EventRecord } from '../schema/index.js';
import { SLOW, tsvRowMax, writeTsvRow, type RowFields } from './tsvrow.js';
import type { DecodeResult, DecodeTask } from './types.js';
import { decodeTask } from './worker.js';

const codec = new EventCodec();

/** Strings with what makes escaping and UTF-8 differ: TSV's specials, controls, non-ASCII, lone surrogates. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', '\t', '\n', '\r', '\\', '\0', '\\N', '"', '\u0001', '\u007f', 'é', '😀', '\u2028', '\ud800', '\udc00', '\ufeff'), maxLength: 10 }),
  fc.string({ maxLength: 80 }),
);
/** Longer than the JS loop's limit, so copied natively: with and without specials, non-ASCII. */
const long = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 48, maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('a', 'b', '{', '"', ':', '\t', '\n', '\r', '\\', '\0', 'é', '😀', '\ud800'), minLength: 48, maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('x', 'y', '\\'), minLength: 47, maxLength: 50 }),
);
const optional = fc.option(fc.oneof(text, long, fc.constant('')), { nil: null });
const jsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v, null, '\t')),
  fc.constantFrom('{}', '', '{"a":"b\\\\c\\n"}', '1e400', '18446744073709551616', '"\ud800"', '{"a":"\u0000"}'),
  text,
  long,
);
// Around both ends of what is written as Unix seconds and of the storable range.
const ms = fc.oneof(
  fc.integer({ min: Date.UTC(1890, 0, 1), max: Date.UTC(2310, 0, 1) }),
  fc.integer({ min: 1e11 - 2000, max: 1e11 + 2000 }),
  fc.integer({ min: 1e13 - 2000, max: 1e13 + 2000 }),
  fc.constantFrom(Date.UTC(1900, 0, 1), Date.UTC(1900, 0, 1) - 1, Date.UTC(2300, 0, 1) - 1, Date.UTC(2300, 0, 1), 0, -1, 2 ** 50, -(2 ** 50)),
);
const record: fc.Arbitrary<EventRecord> = fc.record({
  event_id: fc.oneof(text, long),
  type: fc.constantFrom(...EVENT_TYPES),
  event: optional,
  user_id: optional,
  anonymous_id: optional,
  timestamp: ms,
  sent_at: fc.option(ms, { nil: null }),
  received_at: ms,
  source: fc.oneof(text, long),
  category: optional,
  group_id: optional,
  name: optional,
  previous_id: optional,
  properties: jsonText,
  traits: jsonText,
  context: jsonText,
}) as fc.Arbitrary<EventRecord>;

/** Records whose times are all written as Unix seconds (the byte way's). */
const unixSeconds = fc.integer({ min: 1e11, max: 1e13 - 1 });
const inRange = fc.tuple(record, unixSeconds, fc.option(unixSeconds, { nil: null }), unixSeconds).map(([r, t, s, rcv]) => ({ ...r, timestamp: t, sent_at: s, received_at: rcv }));

/** A record whose string field `field` holds raw bytes (any, ill-formed UTF-8 included), or null if it did not fit. */
const rawBytes = fc
  .tuple(inRange, fc.constantFrom('event_id', 'user_id', 'anonymous_id', 'source', 'name', 'properties', 'context'), fc.uint8Array({ minLength: 1, maxLength: 60 }))
  .map(([r, field, bytes]) => {
    const marker = '\u0001'.repeat(bytes.length);
    const v = codec.encode({ ...r, [field]: marker } as EventRecord);
    const at = v.indexOf(Buffer.from(marker, 'latin1'));
    if (at < 0) return v;
    v.set(bytes, at);
    return v;
  });

/** Values of other kinds: an older schema version, garbage, truncated or padded records. */
const older = loadSchemaVersions('event').slice(0, -1);
const value: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: record.map((r) => codec.encode(r)) },
  { weight: 6, arbitrary: inRange.map((r) => codec.encode(r)) },
  { weight: 2, arbitrary: rawBytes },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.tuple(record, fc.integer({ min: -3, max: 3 })).map(([r, d]) => { const v = codec.encode(r); return d < 0 ? v.subarray(0, Math.max(0, v.length + d)) : Buffer.concat([v, Buffer.alloc(d)]); }) },
  { weight: 1, arbitrary: fc.tuple(record, fc.integer({ min: 5, max: 400 }), fc.integer({ min: 0, max: 255 })).map(([r, i, byte]) => { const v = Buffer.from(codec.encode(r)); if (i < v.length) v[i] = byte; return v; }) },
  ...(older.length > 0 ? [{ weight: 1, arbitrary: record.map((r) => { const v = older[older.length - 1]!; const body = v.type.toBuffer(v.type.clone(r, { wrapUnions: false, fieldHook: undefined }) as never); const h = Buffer.alloc(5); h.writeUInt32BE(v.version, 1); return Buffer.concat([h, body]); }) }] : []),
);

/** A task of these values as decode.ts lays them out: in order, with framing bytes between them or not. */
function task(values: Buffer[], gap: number, topic: string, partition: number, firstOffset: number): DecodeTask {
  const parts: Buffer[] = [];
  const starts = new Uint32Array(values.length);
  const ends = new Uint32Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    // Framing bytes full of what the search looks for: they must never be mistaken for a field's.
    const pad = Buffer.alloc(gap, i % 2 ? 0x5c : 0x09);
    parts.push(pad, v);
    starts[i] = at += gap;
    ends[i] = at += v.length;
  });
  const offsets = Float64Array.from(values, (_, i) => firstOffset + i);
  return { topic, partition, values: new Uint8Array(Buffer.concat(parts)), starts, ends, offsets };
}

const result = (t: DecodeTask, bytes: boolean): DecodeResult => decodeTask({ ...t, values: t.values.slice() }, bytes)[valueSymbol];
const hex = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

function expectSameResult(t: DecodeTask): void {
  const a = result(t, true);
  const b = result(t, false);
  expect(a.rows).toBe(b.rows);
  if (hex(a.payload) !== hex(b.payload)) expect(Buffer.from(a.payload).toString('utf8')).toBe(Buffer.from(b.payload).toString('utf8'));
  expect(hex(a.payload)).toBe(hex(b.payload));
  expect([...a.rowEnds]).toEqual([...b.rowEnds]);
  expect([...a.rowRecord]).toEqual([...b.rowRecord]);
  expect([...a.ids]).toEqual([...b.ids]);
  expect([...a.receivedAt]).toEqual([...b.receivedAt]);
  expect(a.failures).toEqual(b.failures);
}

describe('the decode worker, byte way against string way', () => {
  it('gives the same payload, rows, hashes, times and failures for any task', () => {
    // Tasks the byte way keeps (no row of it has bytes that are not UTF-8), so not all compare the fallback.
    let kept = 0;
    const out = Buffer.alloc(1 << 16);
    const fields: RowFields = { asciiIds: false, idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, receivedAt: 0 };
    const keeps = (values: Buffer[]) =>
      values.some((v) => writeTsvRow(v, 0, v.length, codec.writerId, Buffer.from('t'), 0, 0, out, 0, fields) !== SLOW) &&
      values.every((v) => {
        const end = writeTsvRow(v, 0, v.length, codec.writerId, Buffer.from('t'), 0, 0, out, 0, fields);
        return end === SLOW || isUtf8(out.subarray(0, end));
      });
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        if (keeps(values)) kept++;
        expectSameResult(task(values, 3, 'trackhouse.events', 5, 1000));
      }),
      { numRuns: 1500, seed: 16 },
    );
    expect(kept).toBeGreaterThan(200);
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 25 }),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom('trackhouse.events', 'a\tb\\c', 'é'),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, 99, 1e9, 2 ** 53 - 100),
        (values, gap, topic, partition, firstOffset) => expectSameResult(task(values, gap, topic, partition, firstOffset)),
      ),
      { numRuns: 1500 },
    );
  });

  it('matches on the events of the sink bench, in tasks of 4096', async () => {
    const { eventFactory } = await import('../../bench/sink-events.js');
    const f = eventFactory(7, 1000, Date.UTC(2026, 11, 4));
    const values = Array.from({ length: 4096 }, () => codec.encode(f.next()));
    const t = task(values, 70, 'trackhouse.events', 3, 123_456);
    expectSameResult(t);
    // ... and every one of them takes the byte way.
    const out = Buffer.alloc(1 << 16);
    const fields: RowFields = { asciiIds: false, idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, receivedAt: 0 };
    const slow = values.filter((v) => writeTsvRow(v, 0, v.length, codec.writerId, Buffer.from('t'), 0, 0, out, 0, fields) === SLOW || !fields.asciiIds);
    expect(slow.length).toBe(0);
    expect(result(t, true).rows).toBe(4096);
  });
});

describe('writeTsvRow', () => {
  const fields: RowFields = { asciiIds: true, idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, receivedAt: 0 };
  const topic = Buffer.from(escapeTsv('t'));

  it('writes encodeTsvRow for records of the newest schema with storable Unix-second times, within tsvRowMax', () => {
    let fast = 0;
    let compared = 0;
    fc.assert(
      fc.property(fc.oneof(record, inRange), (r) => {
        const v = codec.encode(r);
        const out = Buffer.alloc(tsvRowMax(v.length, topic.length) + 8);
        const end = writeTsvRow(v, 0, v.length, codec.writerId, topic, 1, 42, out, 4, fields);
        if (end === SLOW) return;
        fast++;
        const decoded = codec.decode(v);
        const want = encodeTsvRow(decoded, 't', 1, 42);
        // Lone surrogates are written as bytes that are not UTF-8: the worker's isUtf8 check of the
        // payload sends such tasks the string way (the test above), so they are not compared here.
        if (!isUtf8(out.subarray(4, end))) return;
        compared++;
        expect(out.toString('utf8', 4, end)).toBe(want);
        expect(end - 4).toBe(Buffer.byteLength(want));
        expect(v.toString('utf8', fields.idFrom, fields.idTo)).toBe(decoded.event_id);
        expect(fields.receivedAt).toBe(decoded.received_at);
        if (fields.asciiIds) expect(/^[\0-\x7f]*$/.test(decoded.event_id)).toBe(true);
      }),
      // A fixed seed: the counts below are then the same on every run.
      { numRuns: 3000, seed: 16 },
    );
    // Only times outside 1973-2286 take the string way among these; lone surrogates are not compared.
    expect(fast).toBeGreaterThan(1500);
    expect(compared).toBeGreaterThan(500);
  });

  it('leaves records of another schema id, truncated or with trailing bytes to the string way', () => {
    const r = eventRecord({ event_id: 'e', event: 'x', timestamp: 1e12, received_at: 1e12, source: 's' });
    const v = codec.encode(r);
    const out = Buffer.alloc(tsvRowMax(v.length + 1, 1));
    expect(writeTsvRow(v, 0, v.length, codec.writerId, topic, 0, 0, out, 0, fields)).toBe(Buffer.byteLength(encodeTsvRow(r, 't', 0, 0)));
    expect(writeTsvRow(v, 0, v.length, codec.writerId + 1, topic, 0, 0, out, 0, fields)).toBe(SLOW);
    expect(writeTsvRow(v, 0, v.length - 1, codec.writerId, topic, 0, 0, out, 0, fields)).toBe(SLOW);
    expect(writeTsvRow(Buffer.concat([v, Buffer.from([0])]), 0, v.length + 1, codec.writerId, topic, 0, 0, out, 0, fields)).toBe(SLOW);
  });
});
