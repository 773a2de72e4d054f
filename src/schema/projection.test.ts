import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EventCodec } from './codec.js';
import { emptyProjection, EventProjector, propertiesText } from './projection.js';
import { loadSchemaVersions } from './registry.js';
import { EVENT_TYPES, type EventRecord } from './types.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const nullable = fc.option(text, { nil: null });
// Times across the range the ingest accepts (1900-2299), negative ones included.
const time = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2299, 11, 31) });

const recordArb: fc.Arbitrary<EventRecord> = fc.record({
  event_id: text,
  type: fc.constantFrom(...EVENT_TYPES),
  event: nullable,
  user_id: nullable,
  anonymous_id: nullable,
  timestamp: time,
  sent_at: fc.option(time, { nil: null }),
  received_at: time,
  source: text,
  category: nullable,
  group_id: nullable,
  name: nullable,
  previous_id: nullable,
  properties: fc.json({ maxDepth: 2 }),
  traits: fc.json({ maxDepth: 1 }),
  context: fc.json({ maxDepth: 2 }),
});

describe('EventProjector', () => {
  const codec = new EventCodec();
  const projector = new EventProjector(codec);

  it('takes the fast path for every released schema version', () => {
    expect(projector.allFast).toBe(true);
  });

  it('reads the same fields as the full decode, for any record of the newest version', () => {
    const out = emptyProjection();
    fc.assert(
      fc.property(recordArb, (r) => {
        const buf = codec.encode(r);
        projector.read(buf, out);
        const full = codec.decode(buf);
        expect({ ...pick(out), properties: propertiesText(out), id: out.buf.toString('utf8', out.idStart, out.idEnd) }).toEqual({
          id: full.event_id,
          type: full.type,
          event: full.event,
          user_id: full.user_id,
          anonymous_id: full.anonymous_id,
          timestamp: full.timestamp,
          received_at: full.received_at,
          source: full.source,
          properties: full.properties,
        });
      }),
      { numRuns: 500 },
    );
  });

  it('reads the same fields with interned strings (as the stream processor reads), when names repeat and when they do not', () => {
    // A small pool, so the intern table hits (and two names of one length may share a slot),
    // with unicode, invalid UTF-8 (lone surrogates in 'binary' strings), empty and over-long names.
    const pool = fc.constantFrom('web', 'ios', 'Order Completed', 'Produkt angesehen ü', '注文完了', '😀 emoji', '', 'x'.repeat(64), 'y'.repeat(65), '\ud800', 'a"b\\c');
    const name = fc.oneof(pool, text);
    const interned = new EventProjector(codec, { ids: false, intern: true });
    const out = emptyProjection();
    fc.assert(
      fc.property(recordArb, name, fc.option(name, { nil: null }), (r, source, event) => {
        const buf = codec.encode({ ...r, source, event });
        interned.read(buf, out);
        const full = codec.decode(buf);
        expect({ ...pick(out), properties: propertiesText(out) }).toEqual({
          type: full.type,
          event: full.event,
          user_id: null,
          anonymous_id: null,
          timestamp: full.timestamp,
          received_at: full.received_at,
          source: full.source,
          properties: full.properties,
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('reads records written with every earlier version', () => {
    const out = emptyProjection();
    for (const v of loadSchemaVersions('event')) {
      fc.assert(
        fc.property(recordArb, (r) => {
          const fields = (v.type.schema() as { fields: { name: string }[] }).fields.map((f) => f.name);
          const rec = Object.fromEntries(fields.map((f) => [f, r[f as keyof EventRecord]]));
          const buf = Buffer.concat([Buffer.from([0, 0, 0, 0, v.version]), v.type.toBuffer(rec)]);
          projector.read(buf, out);
          expect(out.timestamp).toBe(r.timestamp);
          expect(out.received_at).toBe(r.received_at);
          expect(out.source).toBe(r.source);
          expect(out.event).toBe(r.event);
          expect(propertiesText(out)).toBe(r.properties);
          expect(out.buf.toString('utf8', out.idStart, out.idEnd)).toBe(Buffer.from(r.event_id).toString('utf8'));
        }),
        { numRuns: 100 },
      );
    }
  });

  it('refuses truncated records, trailing bytes, bad magic and unknown schema ids as the codec does', () => {
    const out = emptyProjection();
    const buf = codec.encode({ ...sample() });
    for (const bad of [buf.subarray(0, buf.length - 3), Buffer.concat([buf, Buffer.from([0])]), Buffer.from([1, ...buf.subarray(1)]), Buffer.from([0, 0, 0, 0, 99, 0])]) {
      expect(() => codec.decode(bad)).toThrow(DecodeError);
      expect(() => projector.read(bad, out)).toThrow(DecodeError);
    }
  });
});

function pick(p: ReturnType<typeof emptyProjection>) {
  return { type: p.type, event: p.event, user_id: p.user_id, anonymous_id: p.anonymous_id, timestamp: p.timestamp, received_at: p.received_at, source: p.source };
}

function sample(): EventRecord {
  return {
    event_id: 'm',
    type: 'track',
    event: 'Order Completed',
    user_id: 'u',
    anonymous_id: null,
    timestamp: 1_763_700_000_123,
    sent_at: null,
    received_at: 1_763_700_000_300,
    source: 'web',
    category: null,
    group_id: null,
    name: null,
    previous_id: null,
    properties: '{"total":12.5}',
    traits: '{}',
    context: '{}',
  };
}
