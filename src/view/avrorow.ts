// A record's stored row (./render.ts: header, then reply JSON) written straight from its Avro
// bytes, for the view's decode threads: the same bytes as writeStoredEvent(recordJson(decoded)),
// without making the record's strings JS strings first.
//
// Why: profiling the decode step on the bench's events (bench/viewbuild-decode.ts) put ~40 % of
// its CPU in the string round trip: avsc's readString (utf8Slice) of the three JSON texts, the
// reply built by string concatenation, then flattened and written back as UTF-8 (Buffer.write),
// and the garbage of all that. Here the JSON texts are validated on their bytes
// (isValidJsonBytes, ./jsonvalid.ts) and copied; the short strings are escaped byte by byte; the
// keys are copied from the bytes, and the identity hash of ASCII ids is that of their bytes, so a
// record of ASCII ids makes no string at all (non-ASCII ids are sliced to strings: the hash is
// over UTF-16 units). Measured in process: 4.4 µs per bench event against 6.5 µs the string way.
//
// When the bytes are the same: a field's UTF-8 copied and escaped as JSON.stringify escapes
// ('"', '\', controls) is JSON.stringify(utf8Slice(bytes)) in UTF-8 when the bytes are
// well-formed UTF-8 (utf8Slice then gives exactly those characters, and well-formed text has no
// lone surrogate to escape). So every field holding a byte >= 0x80 is checked with isUtf8() and
// anything else, a record of another schema version, a malformed record or a time out of range,
// goes the string way (readAvroRow returns SLOW), which decides exactly as before.
// src/view/avrorow.test.ts compares both ways on random records.
import { isUtf8 } from 'node:buffer';
import { EVENT_LAYOUT } from '../schema/writer.js';
import { isStorableTime, EVENT_TYPES } from '../schema/index.js';
import { hadNonAscii, isValidJsonBytes, wasCanonical } from './jsonvalid.js';
import { iso, ROW_CANONICAL, ROW_HEADER, ROW_NO_LAYOUT } from './render.js';

/** readAvroRow's answer when the record must go the string way. */
export const SLOW = -1;

/** Bytes readAvroRow may write for a record of `avroBytes` bytes (escapes take up to 6 bytes per byte). */
export const avroRowMax = (avroBytes: number) => ROW_HEADER + 512 + 6 * avroBytes;

/** Fields of the record just read (readAvroRow), for the keys and the builder's arrays. */
export interface AvroFields {
  /** Whether every string field is ASCII: then the two below are not made (use the byte ranges). */
  ascii: boolean;
  eventId: string;
  userKey: string;
  /** Byte ranges in the record's buffer: the event id, the user key, the event name (eventFrom -1: none). */
  idFrom: number;
  idTo: number;
  userFrom: number;
  userTo: number;
  eventFrom: number;
  eventTo: number;
  /** Index in EVENT_TYPES. */
  typeIndex: number;
  timestamp: number;
  receivedAt: number;
}

// Field indices in the Avro record (EVENT_LAYOUT order); the layout is checked against it below.
const F_EVENT_ID = 0;
const F_EVENT = 2;
const F_USER_ID = 3;
const F_ANONYMOUS_ID = 4;
const F_SOURCE = 8;
const F_CATEGORY = 9;
const F_GROUP_ID = 10;
const F_NAME = 11;
const F_PREVIOUS_ID = 12;
const F_PROPERTIES = 13;
const F_TRAITS = 14;
const F_CONTEXT = 15;
/** The string fields copied with quoted() / optional(): checked for well-formed UTF-8 when one held a byte >= 0x80. */
const SHORT_STRINGS = [F_EVENT_ID, F_EVENT, F_USER_ID, F_ANONYMOUS_ID, F_SOURCE, F_CATEGORY, F_GROUP_ID, F_NAME, F_PREVIOUS_ID];
const LAYOUT_EXPECTED = [
  'event_id', 'type', 'event', 'user_id', 'anonymous_id', 'timestamp', 'sent_at', 'received_at',
  'source', 'category', 'group_id', 'name', 'previous_id', 'properties', 'traits', 'context',
];
if (EVENT_LAYOUT.map(([name]) => name).join() !== LAYOUT_EXPECTED.join()) {
  throw new Error('src/view/avrorow.ts reads the event layout of src/schema/writer.ts: update its field indices');
}

/** Per string field: start and end in the record's bytes; start -1: null. */
const fs = new Int32Array(32);
let p = 0;
let bad = false;

/** avsc's readLong (zigzag varint: int arithmetic up to 28 bits, floats beyond). */
function long(b: Uint8Array, end: number): number {
  let n = 0;
  let k = 0;
  let c: number;
  do {
    if (p >= end) {
      bad = true;
      return 0;
    }
    c = b[p++]!;
    n |= (c & 0x7f) << k;
    k += 7;
  } while (c & 0x80 && k < 28);
  if (c & 0x80) {
    let f = n;
    let fk = 268435456;
    do {
      if (p >= end || fk > 2 ** 63) {
        bad = true;
        return 0;
      }
      c = b[p++]!;
      f += (c & 0x7f) * fk;
      fk *= 128;
    } while (c & 0x80);
    return (f % 2 ? -(f + 1) : f) / 2;
  }
  return (n >> 1) ^ -(n & 1);
}

function string(b: Uint8Array, end: number, field: number): void {
  const len = long(b, end);
  if (len < 0 || p + len > end) bad = true;
  fs[2 * field] = p;
  fs[2 * field + 1] = p + len;
  p += len;
}

function nullableString(b: Uint8Array, end: number, field: number): void {
  if (p >= end) {
    bad = true;
    return;
  }
  const branch = b[p++];
  if (branch === 0) fs[2 * field] = -1;
  else if (branch === 2) string(b, end, field);
  else bad = true;
}

const CONST = new Map<string, Uint8Array>();
const bytesOf = (s: string) => {
  let v = CONST.get(s);
  if (v === undefined) CONST.set(s, (v = Buffer.from(s, 'latin1')));
  return v;
};
const TYPE_JSON = EVENT_TYPES.map((t) => bytesOf(JSON.stringify(t)));
const NULL = bytesOf('null');
const HEX = bytesOf('0123456789abcdef');

/** Writes ASCII bytes `s` at `o`; returns the offset after them. */
function put(out: Uint8Array, o: number, s: Uint8Array): number {
  for (let i = 0; i < s.length; i++) out[o + i] = s[i]!;
  return o + s.length;
}

/**
 * The string field as JSON.stringify writes it, at `o` (see the top: the caller checks
 * well-formedness when nonAscii is set). Returns the offset after it.
 */
let nonAscii = false;
function quoted(b: Uint8Array, field: number, out: Uint8Array, o: number): number {
  const a = fs[2 * field]!;
  const e = fs[2 * field + 1]!;
  out[o++] = 0x22;
  for (let i = a; i < e; i++) {
    const c = b[i]!;
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      if (c >= 0x80) nonAscii = true;
      out[o++] = c;
      continue;
    }
    out[o++] = 0x5c;
    if (c === 0x22 || c === 0x5c) out[o++] = c;
    else if (c === 0x08) out[o++] = 0x62;
    else if (c === 0x0c) out[o++] = 0x66;
    else if (c === 0x0a) out[o++] = 0x6e;
    else if (c === 0x0d) out[o++] = 0x72;
    else if (c === 0x09) out[o++] = 0x74;
    else {
      out[o++] = 0x75;
      out[o++] = 0x30;
      out[o++] = 0x30;
      out[o++] = HEX[c >> 4]!;
      out[o++] = HEX[c & 15]!;
    }
  }
  out[o++] = 0x22;
  return o;
}

/** An optional string: null when absent or empty (ClickHouse's ''). */
function optional(b: Uint8Array, field: number, out: Uint8Array, o: number): number {
  const a = fs[2 * field]!;
  if (a < 0 || a === fs[2 * field + 1]) return put(out, o, NULL);
  return quoted(b, field, out, o);
}

function time(ms: number, out: Uint8Array, o: number): number {
  const s = iso(ms);
  out[o++] = 0x22;
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  out[o++] = 0x22;
  return o;
}

let flags = 0;
/** A JSON text field (properties, traits, context, text k): as stored when isValidJSON accepts it, less a BOM, else null. */
function text(b: Uint8Array, field: number, k: number, out: Buffer, o: number): number {
  let a = fs[2 * field]!;
  const e = fs[2 * field + 1]!;
  const ok = isValidJsonBytes(b, a, e);
  if (ok && hadNonAscii() && !isUtf8(b.subarray(a, e))) {
    bad = true;
    return o;
  }
  const bom = e - a >= 3 && b[a] === 0xef && b[a + 1] === 0xbb && b[a + 2] === 0xbf;
  if (!ok || (wasCanonical() && !bom)) flags |= ROW_CANONICAL << k;
  if (!ok) return put(out, o, NULL);
  if (bom) a += 3;
  const n = e - a;
  if (n > 64) {
    (b as Buffer).copy(out, o, a, e);
    return o + n;
  }
  for (let i = 0; i < n; i++) out[o + i] = b[a + i]!;
  return o + n;
}

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
/** Buffer's own utf8Slice (what toString('utf8') calls, without its argument checks): what avsc's readString uses. */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: Utf8Slice }).utf8Slice;

/** The field's bytes as a string (valid UTF-8 checked by the caller when non-ASCII). */
function stringOf(b: Buffer, field: number): string {
  return utf8Slice.call(b, fs[2 * field]!, fs[2 * field + 1]!);
}

function wellFormed(b: Uint8Array, field: number): boolean {
  const a = fs[2 * field]!;
  if (a < 0) return true;
  const e = fs[2 * field + 1]!;
  for (let i = a; i < e; i++) if (b[i]! >= 0x80) return isUtf8(b.subarray(a, e));
  return true;
}

/** Notes in the header (at `at`) that field k's value starts `v` bytes into the JSON. */
function mark(out: Uint8Array, at: number, k: number, v: number): void {
  out[at + 1 + 2 * k] = v & 0xff;
  out[at + 2 + 2 * k] = v >>> 8;
}

const KEYS = [',"type":', ',"event":', ',"user_id":', ',"anonymous_id":', ',"timestamp":', ',"received_at":', ',"source":', ',"category":', ',"group_id":', ',"properties":', ',"traits":', ',"context":', ',"name":', ',"previous_id":'].map(bytesOf);
const OPEN = bytesOf('{"event_id":');

/**
 * Reads the Avro record b[start + 5, end) (after the 5-byte header: schema `schemaId`, the one this
 * layout reads) and writes its stored row at out[at..] (avroRowMax(end - start) bytes free).
 * Returns the bytes written, with `fields` set, or SLOW: take the string way for this record.
 */
export function readAvroRow(b: Buffer, start: number, end: number, schemaId: number, out: Buffer, at: number, fields: AvroFields): number {
  if (end - start < 5 || b[start] !== 0 || b.readUInt32BE(start + 1) !== schemaId) return SLOW;
  p = start + 5;
  bad = false;
  string(b, end, F_EVENT_ID);
  const typeIndex = long(b, end);
  nullableString(b, end, F_EVENT);
  nullableString(b, end, F_USER_ID);
  nullableString(b, end, F_ANONYMOUS_ID);
  const timestamp = long(b, end);
  let sentAt = NaN;
  if (p < end && b[p] === 2) {
    p++;
    sentAt = long(b, end);
  } else if (p < end && b[p] === 0) p++;
  else bad = true;
  const receivedAt = long(b, end);
  string(b, end, F_SOURCE);
  nullableString(b, end, F_CATEGORY);
  nullableString(b, end, F_GROUP_ID);
  nullableString(b, end, F_NAME);
  nullableString(b, end, F_PREVIOUS_ID);
  string(b, end, F_PROPERTIES);
  string(b, end, F_TRAITS);
  string(b, end, F_CONTEXT);
  if (bad || p !== end || typeIndex < 0 || typeIndex >= EVENT_TYPES.length) return SLOW;
  if (!isStorableTime(timestamp) || !isStorableTime(receivedAt) || !(Number.isNaN(sentAt) || isStorableTime(sentAt))) return SLOW;
  if (!Number.isInteger(timestamp) || !Number.isInteger(receivedAt)) return SLOW;

  // The reply JSON, its fields in EVENT_FIELDS order, each value's offset noted in the header.
  flags = 0;
  nonAscii = false;
  const j = at + ROW_HEADER;
  let o = put(out, j, OPEN);
  mark(out, at, 0, o - j);
  o = quoted(b, F_EVENT_ID, out, o);
  o = put(out, o, KEYS[0]!);
  mark(out, at, 1, o - j);
  o = put(out, o, TYPE_JSON[typeIndex]!);
  o = put(out, o, KEYS[1]!);
  mark(out, at, 2, o - j);
  o = optional(b, F_EVENT, out, o);
  o = put(out, o, KEYS[2]!);
  mark(out, at, 3, o - j);
  o = optional(b, F_USER_ID, out, o);
  o = put(out, o, KEYS[3]!);
  mark(out, at, 4, o - j);
  o = optional(b, F_ANONYMOUS_ID, out, o);
  o = put(out, o, KEYS[4]!);
  mark(out, at, 5, o - j);
  o = time(timestamp, out, o);
  o = put(out, o, KEYS[5]!);
  mark(out, at, 6, o - j);
  o = time(receivedAt, out, o);
  o = put(out, o, KEYS[6]!);
  mark(out, at, 7, o - j);
  o = quoted(b, F_SOURCE, out, o);
  o = put(out, o, KEYS[7]!);
  mark(out, at, 8, o - j);
  o = optional(b, F_CATEGORY, out, o);
  o = put(out, o, KEYS[8]!);
  mark(out, at, 9, o - j);
  o = optional(b, F_GROUP_ID, out, o);
  o = put(out, o, KEYS[9]!);
  mark(out, at, 10, o - j);
  o = text(b, F_PROPERTIES, 0, out, o);
  o = put(out, o, KEYS[10]!);
  mark(out, at, 11, o - j);
  o = text(b, F_TRAITS, 1, out, o);
  o = put(out, o, KEYS[11]!);
  mark(out, at, 12, o - j);
  o = text(b, F_CONTEXT, 2, out, o);
  o = put(out, o, KEYS[12]!);
  mark(out, at, 13, o - j);
  o = optional(b, F_NAME, out, o);
  o = put(out, o, KEYS[13]!);
  mark(out, at, 14, o - j);
  o = optional(b, F_PREVIOUS_ID, out, o);
  out[o++] = 0x7d;
  if (bad) return SLOW;
  if (nonAscii) {
    for (const f of SHORT_STRINGS) if (!wellFormed(b, f)) return SLOW;
  }
  const n = o - j;
  if (n >= 0xffff) {
    flags |= ROW_NO_LAYOUT;
    out.fill(0, at + 1, at + ROW_HEADER);
  }
  out[at] = flags;

  const userId = fs[2 * F_USER_ID]! >= 0 && fs[2 * F_USER_ID] !== fs[2 * F_USER_ID + 1] ? F_USER_ID : F_ANONYMOUS_ID;
  const hasEvent = fs[2 * F_EVENT]! >= 0 && fs[2 * F_EVENT] !== fs[2 * F_EVENT + 1];
  fields.ascii = !nonAscii;
  fields.idFrom = fs[2 * F_EVENT_ID]!;
  fields.idTo = fs[2 * F_EVENT_ID + 1]!;
  fields.userFrom = fs[2 * userId]! >= 0 ? fs[2 * userId]! : 0;
  fields.userTo = fs[2 * userId]! >= 0 ? fs[2 * userId + 1]! : 0;
  fields.eventFrom = hasEvent ? fs[2 * F_EVENT]! : -1;
  fields.eventTo = hasEvent ? fs[2 * F_EVENT + 1]! : -1;
  if (nonAscii) {
    // The identity hash is over UTF-16 code units: non-ASCII ids need their strings.
    fields.eventId = stringOf(b, F_EVENT_ID);
    fields.userKey = fs[2 * userId]! >= 0 ? stringOf(b, userId) : '';
  }
  fields.typeIndex = typeIndex;
  fields.timestamp = timestamp;
  fields.receivedAt = receivedAt;
  return ROW_HEADER + n;
}
