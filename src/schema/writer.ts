// An Avro binary writer specialised to the event record (the newest schemas/event.vN.avsc): the
// bytes avsc writes, for a fraction of its CPU.
//
// Why: encoding was ~18 % of the ingest's CPU under batches. avsc's generic path calls a
// per-field _write through a type object, validates each value, and for every string makes two
// C++ calls (Buffer.byteLength, then utf8Write) or copies it char by char. Here the fields are
// written in one straight function with no calls through types; strings of up to 16 units are
// copied in JS, longer ones take one utf8Write each, with their length prefix guessed from the
// string's length and moved only when the guess was wrong (non-ASCII text). Measured here: a
// native call costs ~100 ns whatever the length, a JS copy several ns per char.
//
// Byte identity with avsc 5.7, so records never change with the writer, but for one of its quirks:
//   - long: avsc's zigzag varint, integer arithmetic below 2^30 and float arithmetic above;
//   - string: varint byte length, then the UTF-8 bytes. A lone UTF-16 surrogate (JSON "\ud800" in
//     an event name or id, a browser SDK cutting a string inside an emoji) has no UTF-8 form: it is
//     written as U+FFFD (EF BF BD), as utf8Write, Node and every UTF-8 decoder do. avsc's own loop
//     (its strings of up to 64 bytes) writes ED A0 80 instead, bytes that strict Avro readers
//     refuse: fastavro, so confluent-kafka's Python deserializer, raised UnicodeDecodeError on the
//     whole record. The same length either way (3 bytes), so nothing else moves;
//   - nullable union: branch index 0 for null, 1 for the value.
// Anything unusual (a field undefined, so its default applies; a wrong type, which avsc rejects
// with its own message; a buffer that may be too small) is handed to avsc whole, its strings
// made well-formed first, so those cases behave as before. src/schema/writer.test.ts compares
// both writers on random records (unicode, lone surrogates, nulls, long strings) and the golden
// fixtures pin the bytes.
import type avro from 'avsc';
import type { EventRecord } from './types.js';

/** Writes `rec` at `pos`; returns the offset after it, or a negative number when `buf` is too small. */
export type RecordWriter = (rec: EventRecord, buf: Buffer, pos: number) => number;

/**
 * The layout this writer encodes: field name and kind, in schema order. `compileEventWriter`
 * refuses a schema that differs, so a new schema version cannot be written with a stale layout.
 */
export const EVENT_LAYOUT = [
  ['event_id', 'string'],
  ['type', 'enum'],
  ['event', 'null|string'],
  ['user_id', 'null|string'],
  ['anonymous_id', 'null|string'],
  ['timestamp', 'long'],
  ['sent_at', 'null|long'],
  ['received_at', 'long'],
  ['source', 'string'],
  ['category', 'null|string'],
  ['group_id', 'null|string'],
  ['name', 'null|string'],
  ['previous_id', 'null|string'],
  ['properties', 'string'],
  ['traits', 'string'],
  ['context', 'string'],
] as const;

const EVENT_TYPE_SYMBOLS = ['track', 'identify', 'page', 'screen', 'group', 'alias'];

type Utf8Write = (this: Buffer, s: string, offset: number, length?: number) => number;
/** What avsc checks to choose utf8Write for strings over 64 bytes (it exists on Node 20-24). */
const utf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;

/** Room for everything but the strings' bytes: 16 fields' indices, lengths and longs. */
const FIXED_ROOM = 16 * 10;

/** A field's kind as written in EVENT_LAYOUT, read from an avsc schema (JSON form). */
function kindOf(schema: unknown): string {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return schema.map(kindOf).join('|');
  const s = schema as { type: string; symbols?: string[] };
  if (s.type === 'enum') return s.symbols?.join(',') === EVENT_TYPE_SYMBOLS.join(',') ? 'enum' : 'enum?';
  // A logical type (timestamp-millis) is written as its underlying type: avsc is not given
  // logical type implementations, so it writes the plain long.
  return kindOf(s.type);
}

/** Defaults the layout assumes (avsc writes them for undefined fields; we leave that to avsc). */
function sameLayout(type: avro.Type): boolean {
  const fields = (type.schema() as { fields?: { name: string; type: unknown }[] }).fields;
  if (!fields || fields.length !== EVENT_LAYOUT.length) return false;
  return fields.every((f, i) => f.name === EVENT_LAYOUT[i]![0] && kindOf(f.type) === EVENT_LAYOUT[i]![1]);
}

/**
 * The specialised writer for `type`, or null when its fields are not EVENT_LAYOUT (then use
 * avsc's own; a unit test fails so the layout gets updated with the schema).
 */
export function compileEventWriter(type: avro.Type): RecordWriter | null {
  if (!sameLayout(type)) return null;
  const generic: RecordWriter = (rec, buf, pos) => type.encode(wellFormed(rec), buf, pos);
  return (rec, buf, pos) => {
    const r = rec;
    // Cheap checks first: only well-typed records with room to spare take the fast path.
    const eid = r.event_id;
    const source = r.source;
    const properties = r.properties;
    const traits = r.traits;
    const context = r.context;
    if (typeof eid !== 'string' || typeof source !== 'string' || typeof properties !== 'string' || typeof traits !== 'string' || typeof context !== 'string') {
      return generic(rec, buf, pos);
    }
    const typeIndex = eventTypeIndex(r.type);
    if (typeIndex < 0 || !plainLong(r.timestamp) || !plainLong(r.received_at) || !(r.sent_at === null || plainLong(r.sent_at))) {
      return generic(rec, buf, pos);
    }
    const event = r.event;
    const userId = r.user_id;
    const anonymousId = r.anonymous_id;
    const category = r.category;
    const groupId = r.group_id;
    const name = r.name;
    const previousId = r.previous_id;
    if (!nullableString(event) || !nullableString(userId) || !nullableString(anonymousId) || !nullableString(category)) return generic(rec, buf, pos);
    if (!nullableString(groupId) || !nullableString(name) || !nullableString(previousId)) return generic(rec, buf, pos);
    // Worst case 3 bytes per UTF-16 unit; a record that might not fit is left to avsc, which
    // reports exactly how short the buffer is.
    const chars =
      eid.length + source.length + properties.length + traits.length + context.length +
      (event?.length ?? 0) + (userId?.length ?? 0) + (anonymousId?.length ?? 0) + (category?.length ?? 0) +
      (groupId?.length ?? 0) + (name?.length ?? 0) + (previousId?.length ?? 0);
    if (buf.length - pos < FIXED_ROOM + 3 * chars) return generic(rec, buf, pos);

    let p = writeString(buf, pos, eid);
    buf[p++] = typeIndex << 1;
    p = writeNullableString(buf, p, event);
    p = writeNullableString(buf, p, userId);
    p = writeNullableString(buf, p, anonymousId);
    p = writeLong(buf, p, r.timestamp);
    if (r.sent_at === null) buf[p++] = 0;
    else {
      buf[p++] = 2;
      p = writeLong(buf, p, r.sent_at);
    }
    p = writeLong(buf, p, r.received_at);
    p = writeString(buf, p, source);
    p = writeNullableString(buf, p, category);
    p = writeNullableString(buf, p, groupId);
    p = writeNullableString(buf, p, name);
    p = writeNullableString(buf, p, previousId);
    p = writeString(buf, p, properties);
    p = writeString(buf, p, traits);
    return writeString(buf, p, context);
  };
}

function eventTypeIndex(t: unknown): number {
  switch (t) {
    case 'track':
      return 0;
    case 'identify':
      return 1;
    case 'page':
      return 2;
    case 'screen':
      return 3;
    case 'group':
      return 4;
    case 'alias':
      return 5;
    default:
      return -1;
  }
}

/** Integers written by the same arithmetic as avsc (which accepts up to ~2^53; we take 2^52). */
function plainLong(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v <= 4503599627370496 && v >= -4503599627370496;
}

function nullableString(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function writeNullableString(buf: Buffer, pos: number, s: string | null): number {
  if (s === null) {
    buf[pos] = 0;
    return pos + 1;
  }
  buf[pos] = 2;
  return writeString(buf, pos + 1, s);
}

/**
 * avsc's Tap.writeLong, the same arithmetic: an int32 zigzag below 2^30, floats above (whose
 * `& 0x7f` takes the low bits of the integer part, as avsc's does).
 */
function writeLong(buf: Buffer, pos: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80;
      m >>= 7;
    }
    buf[pos++] = m;
    return pos;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  for (;;) {
    const b = f & 0x7f;
    f /= 128;
    if (f < 1) {
      buf[pos++] = b;
      return pos;
    }
    buf[pos++] = b | 0x80;
  }
}

/** A string length prefix: zigzag varint of a non-negative length below 2^30. */
function writeLength(buf: Buffer, pos: number, len: number): number {
  let m = len << 1;
  while (m >= 0x80) {
    buf[pos++] = (m & 0x7f) | 0x80;
    m >>>= 7;
  }
  buf[pos] = m;
  return pos + 1;
}

function lengthSize(len: number): number {
  const m = len * 2;
  return m < 0x80 ? 1 : m < 0x4000 ? 2 : m < 0x200000 ? 3 : m < 0x10000000 ? 4 : 5;
}

/** UTF-8 byte length as Buffer.byteLength counts it (a lone surrogate: 3 bytes). */
function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // 4 bytes for 2 units
      i++;
    } else len += 2;
  }
  return len;
}

/** ES2024's String.prototype.isWellFormed / toWellFormed (V8 11.1+, so Node 20 on): lone surrogates. */
const { isWellFormed, toWellFormed } = String.prototype as unknown as { isWellFormed: (this: string) => boolean; toWellFormed: (this: string) => string };

/**
 * The record with each lone surrogate of its strings as U+FFFD, for avsc (the rare records this
 * writer hands over), whose own loop would write ED xx xx; the same record when there is none.
 */
function wellFormed(rec: EventRecord): EventRecord {
  let out: Record<string, unknown> | null = null;
  for (const k in rec) {
    const v = (rec as unknown as Record<string, unknown>)[k];
    if (typeof v === 'string' && !isWellFormed.call(v)) (out ??= { ...rec })[k] = toWellFormed.call(v);
  }
  return (out ?? rec) as EventRecord;
}

/** Strings up to this many UTF-16 units are copied in JS; longer ones cost one native write. */
const JS_COPY = 16;

/** Caller guarantees room for the worst case (5 + 3 bytes per UTF-16 unit). */
function writeString(buf: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n <= JS_COPY) {
    // Most ids and names: ASCII, copied here (a native call costs more than a few chars); the
    // length prefix is one byte (at most 48 bytes).
    let p = pos + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return writeUtf8Loop(buf, writeLength(buf, pos, utf8Length(s)), s);
      buf[p++] = c;
    }
    buf[pos] = n << 1;
    return p;
  }
  if (utf8Write === undefined) return writeUtf8Loop(buf, writeLength(buf, pos, utf8Length(s)), s);
  // One native UTF-8 write, the length prefix sized for an ASCII string first and moved when the
  // UTF-8 form turned out longer (well-formed text writes the same bytes either way).
  const guess = lengthSize(n);
  const written = utf8Write.call(buf, s, pos + guess);
  const size = lengthSize(written);
  if (size !== guess) buf.copyWithin(pos + size, pos + guess, pos + guess + written);
  writeLength(buf, pos, written);
  return pos + size + written;
}

/**
 * UTF-8 in JS, for the short non-ASCII strings (and every string where Buffer has no utf8Write):
 * avsc's loop, but a lone surrogate becomes U+FFFD (EF BF BD), as utf8Write writes it.
 */
function writeUtf8Loop(buf: Buffer, pos: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c1 = s.charCodeAt(i);
    let c2: number;
    if (c1 < 0x80) {
      buf[pos++] = c1;
    } else if (c1 < 0x800) {
      buf[pos++] = (c1 >> 6) | 0xc0;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
      c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
      i++;
      buf[pos++] = (c1 >> 18) | 0xf0;
      buf[pos++] = ((c1 >> 12) & 0x3f) | 0x80;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else if ((c1 & 0xf800) === 0xd800) {
      buf[pos++] = 0xef;
      buf[pos++] = 0xbf;
      buf[pos++] = 0xbd;
    } else {
      buf[pos++] = (c1 >> 12) | 0xe0;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    }
  }
  return pos;
}
