import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventRecord } from '../../test/support/events.js';
import { EventCodec, EVENT_TYPES, userKeyOf, type EventRecord } from '../schema/index.js';
import { avroRowMax, readAvroRow, SLOW, type AvroFields } from './avrorow.js';
import { decodeRecords, type DecodeTask } from './decode.js';
import { isValidJson, isValidJsonBytes, wasCanonical } from './jsonvalid.js';
import { recordJson, storedEvent } from './render.js';

const codec = new EventCodec();

/** Strings with what makes escaping and UTF-8 differ: quotes, backslashes, controls, non-ASCII, lone surrogates. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u001f', '\u007f', 'é', '😀', '\u2028', '\ud800', '\udc00', '\ufeff'), maxLength: 8 }),
  fc.string({ maxLength: 80 }),
);
const optional = fc.option(fc.oneof(text, fc.constant('')), { nil: null });
/** Ids and names past the keys' plain limits (254 bytes of a user or event name, 400 of an event id): their hashed forms. */
const long = fc.string({ unit: 'grapheme', minLength: 70, maxLength: 200 });
const optionalLong = fc.option(fc.oneof(text, long, fc.constant('')), { nil: null });
/** JSON texts: valid and canonical, valid with other spellings, invalid, with BOMs, big numbers, deep nesting. */
const jsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v, null, 1)),
  fc.constantFrom('{}', '', ' ', '{', '{"a":1,"a":2}', '{"1":0}', '\ufeff{"a":1}', '\ufeff', '1e400', '1e-400', '18446744073709551615', '18446744073709551616', '-9223372036854775809', '1.50', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\udc00x"', '"\ud800"', '[1,]', '{"a":"\u0001"}', 'nul', 'truex', '"é😀"', '[' .repeat(1025) + ']'.repeat(1025), '[' .repeat(1024) + ']'.repeat(1024)),
  text,
);
const ms = fc.integer({ min: Date.UTC(1890, 0, 1), max: Date.UTC(2310, 0, 1) });
const record: fc.Arbitrary<EventRecord> = fc.record({
  event_id: fc.oneof(text, long),
  type: fc.constantFrom(...EVENT_TYPES),
  event: optionalLong,
  user_id: optionalLong,
  anonymous_id: optional,
  timestamp: ms,
  sent_at: fc.option(ms, { nil: null }),
  received_at: ms,
  source: text,
  category: optional,
  group_id: optional,
  name: optional,
  previous_id: optional,
  properties: jsonText,
  traits: jsonText,
  context: jsonText,
}) as fc.Arbitrary<EventRecord>;

const newFields = (): AvroFields => ({ ascii: true, eventId: '', userKey: '', idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, eventFrom: -1, eventTo: -1, typeIndex: 0, timestamp: 0, receivedAt: 0 });

function task(values: Uint8Array[]): DecodeTask {
  const all = Buffer.concat(values);
  const ends = new Uint32Array(values.length);
  let at = 0;
  values.forEach((v, i) => (ends[i] = at += v.length));
  return { values: all, ends, empty: new Uint8Array(values.length) };
}

describe('readAvroRow', () => {
  it('writes the stored row the string way writes, or leaves the record to it', () => {
    const fields = newFields();
    let fast = 0;
    fc.assert(
      fc.property(record, (r) => {
        const v = codec.encode(r);
        const out = Buffer.alloc(avroRowMax(v.length) + 8);
        const n = readAvroRow(v, 0, v.length, codec.writerId, out, 4, fields);
        if (n === SLOW) return;
        fast++;
        const decoded = codec.decode(v);
        expect(out.subarray(4, 4 + n).toString('hex')).toBe(storedEvent(decoded).toString('hex'));
        expect(v.toString('utf8', fields.idFrom, fields.idTo)).toBe(decoded.event_id);
        expect(v.toString('utf8', fields.userFrom, fields.userTo)).toBe(userKeyOf(decoded));
        expect(fields.timestamp).toBe(decoded.timestamp);
        expect(fields.receivedAt).toBe(decoded.received_at);
        expect(EVENT_TYPES[fields.typeIndex]).toBe(decoded.type);
      }),
      { numRuns: 4000 },
    );
    // Most records take the byte way (only non-UTF-8 bytes, i.e. lone surrogates, and times out of range do not).
    expect(fast).toBeGreaterThan(1000);
  });

  it('leaves records of another schema id, truncated or with trailing bytes to the string way', () => {
    const fields = newFields();
    const r = eventRecord({ event_id: 'e', event: 'x', timestamp: 1e12, received_at: 1e12, source: 's' });
    const v = codec.encode(r);
    const out = Buffer.alloc(avroRowMax(v.length + 1));
    expect(readAvroRow(v, 0, v.length, codec.writerId, out, 0, fields)).toBe(storedEvent(r).length);
    expect(readAvroRow(v, 0, v.length, codec.writerId + 1, out, 0, fields)).toBe(SLOW);
    expect(readAvroRow(v, 0, v.length - 1, codec.writerId, out, 0, fields)).toBe(SLOW);
    expect(readAvroRow(Buffer.concat([v, Buffer.from([0])]), 0, v.length + 1, codec.writerId, out, 0, fields)).toBe(SLOW);
    expect(recordJson(r)).toContain('"event":"x"');
  });
});

describe('decodeRecords', () => {
  it('gives the same slabs and arrays either way', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(record.map((r) => codec.encode(r)), fc.uint8Array({ maxLength: 40 })), { maxLength: 30 }), (values) => {
        const t = task(values);
        const a = decodeRecords(t, true);
        const b = decodeRecords(t, false);
        for (const k of ['status', 'json', 'jsonEnds', 'keys', 'keyEnds', 'userBytes', 'ts', 'receivedAt', 'typeCode', 'ids'] as const) {
          expect(Buffer.from(a[k].buffer, a[k].byteOffset, a[k].byteLength).toString('hex'), k).toBe(Buffer.from(b[k].buffer, b[k].byteOffset, b[k].byteLength).toString('hex'));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isValidJsonBytes', () => {
  it('answers as isValidJson on the text, canonical flag included', () => {
    fc.assert(
      fc.property(jsonText, (t) => {
        // Well-formed UTF-8 only (the caller's check): texts with lone surrogates are not asked.
        const b = Buffer.from(t, 'utf8');
        if (b.toString('utf8') !== t) return;
        const ok = isValidJson(t);
        const canon = wasCanonical();
        // Bytes around the text that would complete or extend it: it must be read within its bounds.
        for (const after of ['"]', 'l', 'e', '0', '"}]', '\\u0041"']) {
          const padded = Buffer.concat([Buffer.from('x"'), b, Buffer.from(after)]);
          expect(isValidJsonBytes(padded, 2, 2 + b.length), t).toBe(ok);
          if (ok) expect(wasCanonical(), t).toBe(canon);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
