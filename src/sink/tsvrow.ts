// A record's TabSeparated row of `events` written straight from its Avro bytes, for the decode
// workers: the same bytes as Buffer.write(encodeTsvRow(codec.decode(record))), without making the
// record's strings JS strings first.
//
// Why: the string way spent the worker's time in avsc's string reads (utf8Slice of ~600 bytes of
// JSON per event), the escape regex per field, the row's concatenation and its UTF-8 write, and
// the garbage of all that. Here the long fields (the JSON texts) are copied natively
// (Buffer#copy) after a bounded check for the five bytes TabSeparated escapes, done with
// indexOf positions cached across the task's buffer (one native search per byte value per
// record at most, not a JS loop over every byte); short fields are copied and escaped in a JS
// loop. Figures: docs/architecture/sink.md.
//
// When the bytes are the same: TabSeparated escapes only ASCII bytes (tab, LF, CR, backslash,
// NUL), so a field copied with those escaped is Buffer.write(escapeTsv(utf8Slice(bytes))) exactly
// when the bytes are well-formed UTF-8 (utf8Slice then gives exactly those characters). The
// caller checks the whole payload once with isUtf8: every field stands between ASCII bytes (tabs,
// newlines, escapes), so the payload is well-formed exactly when every field is. Anything else (a
// record of another schema version, a malformed record, a time outside what this writes as Unix
// seconds) returns SLOW and goes the string way, which decides exactly as before.
// src/sink/tsvrow.test.ts compares both ways byte for byte.
import { EVENT_LAYOUT } from '../schema/writer.js';
import { EVENT_TYPES, isStorableTime, isUnixSecondsTime } from '../schema/index.js';

/** writeTsvRow's answer when the record must go the string way. */
export const SLOW = -1;

/** Bytes writeTsvRow may write for a record of `avroBytes` bytes, with the topic field `topicBytes` long. */
export const tsvRowMax = (avroBytes: number, topicBytes: number) => 2 * avroBytes + topicBytes + 160;

/** Fields of the row just written, for the identity hash and the received-at array. */
export interface RowFields {
  /** The event id and user key are ASCII: hash their byte ranges (else make strings of them). */
  asciiIds: boolean;
  idFrom: number;
  idTo: number;
  /** The user key's bytes; userFrom === userTo when it is ''. */
  userFrom: number;
  userTo: number;
  receivedAt: number;
}

const LAYOUT_EXPECTED = [
  'event_id', 'type', 'event', 'user_id', 'anonymous_id', 'timestamp', 'sent_at', 'received_at',
  'source', 'category', 'group_id', 'name', 'previous_id', 'properties', 'traits', 'context',
];
if (EVENT_LAYOUT.map(([name]) => name).join() !== LAYOUT_EXPECTED.join()) {
  throw new Error('src/sink/tsvrow.ts reads the event layout of src/schema/writer.ts: update it');
}

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
/** The letter after the backslash of each byte TabSeparated escapes; 0: written as it is. */
const ESC = new Uint8Array(256);
ESC[0x09] = 0x74; // \t
ESC[0x0a] = 0x6e; // \n
ESC[0x0d] = 0x72; // \r
ESC[0x5c] = 0x5c; // \\
ESC[0x00] = 0x30; // \0
const SPECIALS = [0x09, 0x0a, 0x0d, 0x5c, 0x00];
const TYPE_BYTES = EVENT_TYPES.map((t) => Buffer.from(t, 'latin1'));

/** Fields shorter than this are copied in the JS loop; longer ones natively after the search. */
const LONG = 48;

/** Read position in the record and whether anything in it did not parse. */
let p = 0;
let bad = false;
/** OR of the bytes of the short fields copied since it was reset (>= 0x80: some non-ASCII). */
let high = 0;

/**
 * Per special byte value, its next position in the current buffer at or after where it was last
 * searched (Infinity: none left). Valid for one buffer, searched forwards only: reset() per task.
 */
const next = new Float64Array(SPECIALS.length);
/** Where each of those searches started: a cached position answers only for a start at or after it. */
const nextFrom = new Float64Array(SPECIALS.length);
let nextBuf: Uint8Array | null = null;

/** Forgets the cached positions (a new buffer). */
function resetSearch(b: Uint8Array): void {
  nextBuf = b;
  next.fill(-1);
  nextFrom.fill(0);
}

/**
 * avsc's readLong (zigzag varint: int arithmetic up to 28 bits, floats beyond). The same reader
 * as src/view/avrorow.ts's, on purpose: each reads this module's own cursor (`p`, `bad`), kept as
 * module-level lets in the per-record loop; sharing it would move the cursor into an object.
 */
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

/** Reads a string's length and returns its end; p is left at its start. */
function stringEnd(b: Uint8Array, end: number): number {
  const len = long(b, end);
  if (len < 0 || p + len > end) {
    bad = true;
    return p;
  }
  return p + len;
}

/** A union's branch: 0 null, 1 the value; -1 bad. */
function branch(b: Uint8Array, end: number): number {
  if (p >= end) return -1;
  const c = b[p++];
  return c === 0 ? 0 : c === 2 ? 1 : -1;
}

/** Copies b[a, e) to out at o, escaped; returns the offset after it. */
function copyShort(b: Uint8Array, a: number, e: number, out: Uint8Array, o: number): number {
  let h = 0;
  for (let i = a; i < e; i++) {
    const c = b[i]!;
    h |= c;
    const x = ESC[c]!;
    if (x === 0) out[o++] = c;
    else {
      out[o++] = BACKSLASH;
      out[o++] = x;
    }
  }
  high |= h;
  return o;
}

/** The first position in [a, e) of a byte TabSeparated escapes, or e. */
function firstSpecial(b: Buffer, a: number, e: number): number {
  let first = e;
  for (let k = 0; k < SPECIALS.length; k++) {
    let at = next[k]!;
    if (at < a || nextFrom[k]! > a) {
      at = b.indexOf(SPECIALS[k]!, a);
      next[k] = at = at < 0 ? Infinity : at;
      nextFrom[k] = a;
    }
    if (at < first) first = at;
  }
  return first;
}

/** Copies b[a, e) to out at o, escaped; long fields natively. Returns the offset after it. */
function copy(b: Buffer, a: number, e: number, out: Buffer, o: number): number {
  if (e - a < LONG) return copyShort(b, a, e, out, o);
  const s = firstSpecial(b, a, e);
  if (s > a) {
    b.copy(out, o, a, s);
    o += s - a;
  }
  // Not ASCII-checked here: the caller's isUtf8 of the payload covers these bytes.
  return s < e ? copyShort(b, s, e, out, o) : o;
}

/** Writes a non-negative integer below 2^53 as String(n) does. Returns the offset after it. */
function digits(n: number, out: Uint8Array, o: number): number {
  let len = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
  for (let i = o + len - 1; i >= o; i--) {
    const q = Math.floor(n / 10);
    out[i] = 0x30 + (n - q * 10);
    n = q;
  }
  return o + len;
}

/** Times row.ts writes as Unix seconds; others go the string way. */
const timeFits = (ms: number) => isUnixSecondsTime(ms) && isStorableTime(ms);

/** row.ts's time(): seconds, '.', three digits of milliseconds. */
function time(ms: number, out: Uint8Array, o: number): number {
  const frac = ms % 1000;
  o = digits((ms - frac) / 1000, out, o);
  out[o++] = 0x2e;
  out[o++] = 0x30 + Math.floor(frac / 100);
  out[o++] = 0x30 + (Math.floor(frac / 10) % 10);
  out[o++] = 0x30 + (frac % 10);
  return o;
}

/**
 * Reads the Avro record b[start + 5, end) (after the 5-byte header: schema `schemaId`, the one
 * this layout reads) and writes its row at out[o..] (tsvRowMax bytes free), `topic` being the
 * escaped topic field's bytes. Returns the offset after the row, with `fields` set, or SLOW.
 */
export function writeTsvRow(
  b: Buffer,
  start: number,
  end: number,
  schemaId: number,
  topic: Uint8Array,
  partition: number,
  offset: number,
  out: Buffer,
  o: number,
  fields: RowFields,
): number {
  if (end - start < 5 || b[start] !== 0 || b.readUInt32BE(start + 1) !== schemaId) return SLOW;
  if (b !== nextBuf) resetSearch(b);
  p = start + 5;
  bad = false;
  high = 0;
  // event_id
  const idEnd = stringEnd(b, end);
  const idFrom = p;
  if (bad) return SLOW;
  o = copyShort(b, p, idEnd, out, o);
  p = idEnd;
  out[o++] = TAB;
  // type
  const typeIndex = long(b, end);
  if (bad || typeIndex < 0 || typeIndex >= TYPE_BYTES.length) return SLOW;
  const type = TYPE_BYTES[typeIndex]!;
  for (let i = 0; i < type.length; i++) out[o++] = type[i]!;
  out[o++] = TAB;
  // event, user_id, anonymous_id: null and '' both write nothing.
  let userFrom = 0;
  let userTo = 0;
  for (let f = 0; f < 3; f++) {
    const br = branch(b, end);
    if (br < 0) return SLOW;
    if (br === 1) {
      const e = stringEnd(b, end);
      if (bad) return SLOW;
      // userKeyOf: user_id when not '', else anonymous_id (null: '').
      if ((f === 1 || (f === 2 && userFrom === userTo)) && e > p) {
        userFrom = p;
        userTo = e;
      }
      // Always the JS loop: it notes whether the ids are ASCII.
      o = copyShort(b, p, e, out, o);
      p = e;
    }
    out[o++] = TAB;
  }
  const idsHigh = high;
  // timestamp, sent_at, received_at
  const timestamp = long(b, end);
  const sentBranch = branch(b, end);
  const sentAt = sentBranch === 1 ? long(b, end) : 0;
  const receivedAt = long(b, end);
  if (bad || sentBranch < 0 || !timeFits(timestamp) || !timeFits(receivedAt) || (sentBranch === 1 && !timeFits(sentAt))) return SLOW;
  o = time(timestamp, out, o);
  out[o++] = TAB;
  if (sentBranch === 1) o = time(sentAt, out, o);
  else {
    out[o++] = BACKSLASH;
    out[o++] = 0x4e; // \N
  }
  out[o++] = TAB;
  o = time(receivedAt, out, o);
  out[o++] = TAB;
  // source
  let e = stringEnd(b, end);
  if (bad) return SLOW;
  o = copy(b, p, e, out, o);
  p = e;
  out[o++] = TAB;
  // category, group_id, name, previous_id
  for (let f = 0; f < 4; f++) {
    const br = branch(b, end);
    if (br < 0) return SLOW;
    if (br === 1) {
      e = stringEnd(b, end);
      if (bad) return SLOW;
      o = copy(b, p, e, out, o);
      p = e;
    }
    out[o++] = TAB;
  }
  // properties, traits, context
  for (let f = 0; f < 3; f++) {
    e = stringEnd(b, end);
    if (bad) return SLOW;
    o = copy(b, p, e, out, o);
    p = e;
    out[o++] = TAB;
  }
  if (p !== end) return SLOW;
  for (let i = 0; i < topic.length; i++) out[o++] = topic[i]!;
  out[o++] = TAB;
  o = digits(partition, out, o);
  out[o++] = TAB;
  o = digits(offset, out, o);
  out[o++] = LF;
  fields.asciiIds = idsHigh < 0x80;
  fields.idFrom = idFrom;
  fields.idTo = idEnd;
  fields.userFrom = userFrom;
  fields.userTo = userTo;
  fields.receivedAt = receivedAt;
  return o;
}
