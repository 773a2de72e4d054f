import { isUtf8 } from 'node:buffer';
import type avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventCodec } from './codec.js';
import { loadSchemaVersions } from './registry.js';
import type { EventRecord, EventType } from './types.js';
import { compileEventWriter, EVENT_LAYOUT } from './writer.js';

const versions = loadSchemaVersions('event');
const latest = versions[versions.length - 1]!.type;
const writer = compileEventWriter(latest)!;

/** `s` with each lone surrogate as U+FFFD (ES2024's toWellFormed, written out as the oracle). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormedText = (s: string): string => s.replace(LONE_SURROGATE, '\ufffd');

/** `rec` with each lone surrogate of its strings as U+FFFD: what the writer writes of them. */
function wellFormed<T>(rec: T): T {
  if (rec === null || typeof rec !== 'object') return rec;
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, typeof v === 'string' ? wellFormedText(v) : v])) as T;
}

/**
 * avsc's bytes for `rec` made well-formed (its toBuffer), or the error it throws: the writer's
 * bytes but for lone surrogates, which avsc's own loop writes as ED xx xx (see writer.ts).
 */
function avscBytes(rec: unknown): Buffer | Error {
  try {
    return latest.toBuffer(wellFormed(rec));
  } catch (err) {
    return err as Error;
  }
}

const out = Buffer.alloc(1 << 20);

/** Same outcome: equal bytes, or both threw. (vitest's toEqual walks Buffers slowly, byte by byte.) */
function expectSame(got: Buffer | Error, want: Buffer | Error): void {
  if (want instanceof Error) {
    expect(got, 'avsc threw, so should we').toBeInstanceOf(Error);
    return;
  }
  expect(got).toBeInstanceOf(Buffer);
  if (!(got as Buffer).equals(want)) expect((got as Buffer).toString('hex')).toBe(want.toString('hex'));
}

function ourBytes(rec: unknown): Buffer | Error {
  try {
    const end = writer(rec as EventRecord, out, 0);
    return Buffer.from(out.subarray(0, end));
  } catch (err) {
    return err as Error;
  }
}

// UTF-16 units of every kind the writer treats differently: ASCII, 2- and 3-byte UTF-8, astral
// characters (surrogate pairs) and lone surrogates, which JSON.parse makes of "\ud800".
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0x7ff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0x800, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
);
const text = fc.oneof(
  { weight: 4, arbitrary: fc.array(unit, { maxLength: 90 }).map((u) => u.join('')) },
  // Around the thresholds: 21/22 units, 64 bytes (avsc's loop vs utf8Write), 63/64 and 8191/8192
  // bytes (1-, 2- and 3-byte length prefixes), and long JSON-like texts.
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(20, 21, 22, 32, 63, 64, 65, 66, 8190, 8191, 8192, 8193), unit).map(([n, u]) => 'a'.repeat(n) + u) },
  { weight: 1, arbitrary: fc.tuple(fc.array(unit, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 1500 })).map(([u, n]) => u.join('').repeat(n)) },
);
const nullableText = fc.option(text, { nil: null, freq: 3 });
/** avsc takes longs within +-9007199254740990 (its isSafeLong). */
const AVSC_MAX_LONG = 9007199254740990;
const long = fc.oneof(
  fc.integer({ min: -1073741825, max: 1073741825 }),
  fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2299, 11, 31) }),
  fc.maxSafeInteger().filter((x) => Math.abs(x) <= AVSC_MAX_LONG),
  fc.constantFrom(0, -1, 1073741823, 1073741824, -1073741824, -1073741825, 2 ** 52, -(2 ** 52), AVSC_MAX_LONG, -AVSC_MAX_LONG),
);
const eventType = fc.constantFrom<EventType>('track', 'identify', 'page', 'screen', 'group', 'alias');

const record: fc.Arbitrary<EventRecord> = fc.record({
  event_id: text,
  type: eventType,
  event: nullableText,
  user_id: nullableText,
  anonymous_id: nullableText,
  timestamp: long,
  sent_at: fc.option(long, { nil: null }),
  received_at: long,
  source: text,
  category: nullableText,
  group_id: nullableText,
  name: nullableText,
  previous_id: nullableText,
  properties: text,
  traits: text,
  context: text,
});

const sample: EventRecord = {
  event_id: 'node-next-1763700000123-0b7c3a8e-6f0e-4f7e-9d39-2f1c8a1e4a55',
  type: 'track',
  event: 'Order Completed',
  user_id: 'user-4242',
  anonymous_id: null,
  timestamp: 1_763_700_000_123,
  sent_at: 1_763_700_000_200,
  received_at: 1_763_700_000_300,
  source: 'web',
  category: 'shoes',
  group_id: null,
  name: null,
  previous_id: null,
  properties: '{"orderId":"ord-1","revenue":42.5,"currency":"EUR","category":"shoes"}',
  traits: '{}',
  context: '{"ip":"203.0.113.7","library":{"name":"@segment/analytics-node","version":"3.1.0"},"locale":"en-US"}',
};

describe('specialised event writer', () => {
  it('is used for the newest schema version (update EVENT_LAYOUT in writer.ts with a new version)', () => {
    expect(writer).not.toBeNull();
    expect(new EventCodec().specialised).toBe(true);
  });

  it('refuses a schema whose fields differ from its layout', () => {
    // Version 1 lacks name and previous_id.
    expect(compileEventWriter(versions[0]!.type)).toBeNull();
    const fields = (latest.schema() as { fields: unknown[] }).fields;
    expect(fields).toHaveLength(EVENT_LAYOUT.length);
  });

  it('writes avsc\'s bytes of random records, lone surrogates as U+FFFD (unicode, nulls, long strings, large longs)', () => {
    fc.assert(
      fc.property(record, (rec) => {
        const want = avscBytes(rec);
        expect(want).toBeInstanceOf(Buffer);
        expectSame(ourBytes(rec), want);
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('writes at any offset and reports a buffer too small exactly as avsc does', () => {
    fc.assert(
      fc.property(record, fc.nat(600), fc.nat(4000), (rec, offset, size) => {
        const a = Buffer.alloc(offset + size, 0xaa);
        const b = Buffer.alloc(offset + size, 0xaa);
        const ours = writer(rec, a, offset);
        const theirs = latest.encode(wellFormed(rec), b, offset);
        expect(ours).toBe(theirs);
        if (theirs > 0) expectSame(a.subarray(offset, ours), b.subarray(offset, theirs));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('behaves as avsc for records it does not take itself: missing fields get defaults, wrong types throw', () => {
    const odd = fc.constantFrom<unknown>(undefined, 42, 1.5, true, {}, [], 'text', null, Number.MAX_SAFE_INTEGER + 2, NaN);
    const field = fc.constantFrom(...EVENT_LAYOUT.map(([name]) => name));
    fc.assert(
      fc.property(record, field, odd, (rec, name, value) => {
        const broken = { ...rec, [name]: value };
        expectSame(ourBytes(broken), avscBytes(broken));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('writes every lone surrogate as U+FFFD, valid UTF-8 strict readers take, in strings of any length and on avsc\'s path', () => {
    const REPLACEMENT = Buffer.from([0x61, 0xef, 0xbf, 0xbd]);
    // Either side of 16 units (copied in JS) and of 64 bytes (avsc's own loop, which writes ED xx xx).
    for (const event of ['a\ud800', `${'a'.repeat(20)}\udbff`, `${'a'.repeat(61)}\udc00`, `${'a'.repeat(62)}\udc00`, `${'a'.repeat(70)}\ud800`, 'a\udfff\ud83d\ude00']) {
      const rec = { ...sample, event };
      const bytes = ourBytes(rec) as Buffer;
      const utf8 = Buffer.from(wellFormedText(event));
      expect(isUtf8(utf8) && bytes.includes(utf8), event).toBe(true);
      expect(bytes.includes(REPLACEMENT), event).toBe(true);
      expect(bytes.includes(Buffer.from([0x61, 0xed])), event).toBe(false);
      expect((latest as avro.Type).fromBuffer(bytes)).toEqual({ ...rec, event: wellFormedText(event) });
    }
    // A record the writer hands to avsc (a field left to its default) gets the same bytes.
    const { name: _name, ...noName } = { ...sample, user_id: 'u\ud800' };
    const viaAvsc = ourBytes(noName) as Buffer;
    expect(viaAvsc.includes(Buffer.from([0x75, 0xef, 0xbf, 0xbd]))).toBe(true);
    expect(viaAvsc.includes(Buffer.from([0x75, 0xed]))).toBe(false);
  });

  it('moves a long string when its UTF-8 form needs a longer length prefix than its length suggested', () => {
    // 8000 units of 2 bytes: the ASCII guess is a 2-byte prefix, the real 16000 bytes need 3.
    const rec = { ...sample, properties: 'é'.repeat(8000) };
    const bytes = ourBytes(rec) as Buffer;
    expectSame(bytes, avscBytes(rec));
    expect((latest as avro.Type).fromBuffer(bytes)).toEqual(rec);
  });
});
