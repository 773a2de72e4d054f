// Binary keys of the view's key spaces. LMDB orders keys by their bytes, so a key is built to make
// that order the API's order: a user's events together, oldest first; read backwards, newest first
// by (timestamp DESC, event_id DESC), event ids compared by their UTF-8 bytes as ClickHouse compares
// Strings.
//
//   events    U T I          -> the event's reply JSON
//   by_type   U y T I        -> (empty): the events key is U T I
//   by_event  U E T I        -> type code (1 byte): the events key is U T I
//
//   U  user key: [length][UTF-8] up to 254 bytes, else [255][16-byte hash of it]. Length-prefixed,
//      so no user's keys start with another user's prefix, whatever bytes the ids hold.
//   y  event type code (1 byte).
//   E  event name, encoded like U.
//   T  timestamp - 1900-01-01 in ms, 6 bytes big-endian (ClickHouse's DateTime64 range fits).
//   I  event id: UTF-8 up to 400 bytes, else its first 384 bytes and a 16-byte hash. Last in the
//      key, so it needs no length: equal prefixes order by length, as ClickHouse orders Strings.
//
// Hashed forms keep keys within LMDB's limit (1978 bytes). A hashed user or event name could in
// theory share its prefix with another (128-bit hash); a long id changes the order only between
// two of one user's events in the same millisecond whose ids share their first 384 bytes.
import { createHash } from 'node:crypto';
import { EVENT_TYPES } from '../schema/index.js';

/** 1900-01-01T00:00:00Z: the earliest time ClickHouse's DateTime64 holds, and so any event. */
export const TIME_BASE_MS = Date.UTC(1900, 0, 1);
/** One past the latest time a 6-byte T holds (far beyond DateTime64's 2299-12-31). */
export const TIME_END_MS = TIME_BASE_MS + 2 ** 48;

const MAX_PLAIN = 254;
const HASHED = 255;
const MAX_ID = 400;
const ID_PREFIX = 384;
const HASH_BYTES = 16;

/** Type code of each event type (1-based, in schema order); 0 for anything else. */
export const TYPE_CODES: ReadonlyMap<string, number> = new Map(EVENT_TYPES.map((t, i) => [t, i + 1]));
export const TYPE_NAMES: readonly string[] = ['', ...EVENT_TYPES];

function hash16(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, HASH_BYTES);
}

/**
 * Writes keys into one growing buffer: a caller builds a key, uses it (LMDB copies keys), and the
 * same bytes serve the next key. No allocation per key on the hot path.
 */
export class KeyWriter {
  buf = Buffer.allocUnsafeSlow(4096);
  at = 0;

  reset(): this {
    this.at = 0;
    return this;
  }

  /** The key written since reset(), as a view of the buffer (valid until the next reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** U or E: length-prefixed UTF-8, or the hashed form. */
  name(s: string): this {
    const at = this.at;
    // Worst case 3 bytes per UTF-16 unit; long names are rare and take the slow path.
    if (s.length * 3 <= MAX_PLAIN) {
      const n = this.buf.write(s, at + 1, 'utf8');
      this.buf[at] = n;
      this.at = at + 1 + n;
      return this;
    }
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length <= MAX_PLAIN) {
      this.buf[at] = bytes.length;
      bytes.copy(this.buf, at + 1);
      this.at = at + 1 + bytes.length;
    } else {
      this.buf[at] = HASHED;
      hash16(bytes).copy(this.buf, at + 1);
      this.at = at + 1 + HASH_BYTES;
    }
    return this;
  }

  /** name() of the UTF-8 text b[from, to) (a name short enough to be kept plain; longer ones go through name()). */
  nameBytes(b: Buffer, from: number, to: number): this {
    const n = to - from;
    if (n > MAX_PLAIN) return this.name(b.toString('utf8', from, to));
    this.buf[this.at++] = n;
    return this.part(b, from, to);
  }

  /** id() of the UTF-8 text b[from, to). */
  idBytes(b: Buffer, from: number, to: number): this {
    if (to - from > MAX_ID) return this.id(b.toString('utf8', from, to));
    return this.part(b, from, to);
  }

  byte(b: number): this {
    this.buf[this.at++] = b;
    return this;
  }

  /** T: clamped into the 6-byte range, so bounds beyond it still sort right. */
  time(ms: number): this {
    const v = ms <= TIME_BASE_MS ? 0 : ms >= TIME_END_MS ? 2 ** 48 - 1 : ms - TIME_BASE_MS;
    this.buf.writeUIntBE(v, this.at, 6);
    this.at += 6;
    return this;
  }

  /** I, last in a key. */
  id(s: string): this {
    const at = this.at;
    if (s.length * 3 <= MAX_ID) {
      this.at = at + this.buf.write(s, at, 'utf8');
      return this;
    }
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length <= MAX_ID) {
      bytes.copy(this.buf, at);
      this.at = at + bytes.length;
    } else {
      bytes.copy(this.buf, at, 0, ID_PREFIX);
      hash16(bytes).copy(this.buf, at + ID_PREFIX);
      this.at = at + ID_PREFIX + HASH_BYTES;
    }
    return this;
  }

  /** Raw bytes (a part of another key). */
  bytes(b: Uint8Array, start = 0, end = b.length): this {
    this.buf.set(b.subarray(start, end), this.at);
    this.at += end - start;
    return this;
  }

  /**
   * Raw bytes like bytes(), copied one by one: no view allocated (a Buffer's subarray() runs Node's
   * FastBuffer constructor), which for the few bytes of a key part is the cheaper copy. The read path's.
   */
  part(b: Uint8Array, start: number, end: number): this {
    const buf = this.buf;
    let at = this.at;
    for (let i = start; i < end; i++) buf[at++] = b[i]!;
    this.at = at;
    return this;
  }

  /** The key as a Buffer of its own (to keep beyond the next reset). */
  copy(): Buffer {
    return Buffer.from(this.view());
  }
}

/** Length of the U (or E) part starting at `at`. */
export function nameLength(key: Uint8Array, at: number): number {
  const n = key[at]!;
  return n === HASHED ? 1 + HASH_BYTES : 1 + n;
}

/** T at `at`, as Unix ms (arithmetic on the bytes: no Buffer per call on the read path). */
export function readTime(key: Uint8Array, at: number): number {
  return (
    key[at]! * 2 ** 40 + key[at + 1]! * 2 ** 32 + key[at + 2]! * 2 ** 24 + key[at + 3]! * 2 ** 16 + key[at + 4]! * 2 ** 8 + key[at + 5]! + TIME_BASE_MS
  );
}
