// Reads a few top-level members of a JSON object from its UTF-8 bytes, without JSON.parse: the
// stream processor needs one or two properties (a sum, a group) of every event, and parsing the
// whole object cost 3 us per 600-byte event here (most of its CPU, and most of its garbage). The
// scanner walks the bytes once, tracking strings and nesting, and decodes only the values of the
// wanted keys at depth 1. Input it cannot read as JSON gives no values (as JSON.parse would throw).
// props.test.ts checks it against JSON.parse on generated objects.

import { Interner, utf8 } from '../schema/intern.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

export class PropertyReader {
  /** The wanted names as UTF-8 bytes, to compare keys without making strings. */
  private readonly names: Buffer[];
  readonly values: unknown[];
  /** String values (a category to group by, say) repeat: one string object per distinct value. */
  private readonly interner = new Interner();

  constructor(readonly wanted: readonly string[]) {
    this.names = wanted.map((w) => Buffer.from(w, 'utf8'));
    this.values = new Array<unknown>(wanted.length).fill(undefined);
  }

  /**
   * Reads bytes [start, end) of `buf` (a JSON object). Afterwards values[i] holds wanted[i]'s
   * value (number, string, boolean, null; undefined when absent, nested or unreadable).
   * Returns false when the bytes are not a JSON object this scanner can walk.
   */
  read(buf: Uint8Array, start: number, end: number): boolean {
    const values = this.values;
    for (let i = 0; i < values.length; i++) values[i] = undefined;
    let i = skipWs(buf, start, end);
    if (i >= end || buf[i] !== OPEN_OBJ) return false;
    i++;
    let depth = 1;
    // At depth 1: expecting a key (after { or ,), then a value (after :).
    let expectKey = true;
    let want = -1;
    while (i < end) {
      const c = buf[i]!;
      if (c === QUOTE) {
        const close = stringEnd(buf, i + 1, end);
        if (close < 0) return false;
        if (depth === 1 && expectKey) {
          want = this.match(buf, i + 1, close, escaped);
          expectKey = false;
        } else if (depth === 1 && want >= 0) {
          values[want] = decodeString(buf, i + 1, close, escaped, this.interner);
          want = -1;
        }
        i = close + 1;
        continue;
      }
      if (c === OPEN_OBJ || c === OPEN_ARR) {
        depth++;
        if (depth === 2 && want >= 0) {
          values[want] = undefined; // a nested value is not a property value (a later duplicate key wins, as in JSON.parse)
          want = -1;
        }
      } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        depth--;
        if (depth === 0) return true;
      } else if (depth === 1) {
        if (c === COMMA) {
          expectKey = true;
          want = -1;
        } else if (c !== COLON && c > 0x20 && want >= 0) {
          // a number, true, false or null
          let j = i;
          while (j < end && buf[j] !== COMMA && buf[j] !== CLOSE_OBJ && buf[j]! > 0x20) j++;
          values[want] = literal(buf, i, j);
          want = -1;
          i = j;
          continue;
        }
      }
      i++;
    }
    return false;
  }

  /** Index of the wanted name the key at [from, to) is, or -1. `esc`: the key holds a backslash. */
  private match(buf: Uint8Array, from: number, to: number, esc: boolean): number {
    if (esc) {
      // An escaped key: compare its decoded text.
      const key = decodeString(buf, from, to, true);
      return key === undefined ? -1 : this.wanted.indexOf(key);
    }
    const len = to - from;
    outer: for (let k = 0; k < this.names.length; k++) {
      const n = this.names[k]!;
      if (n.length !== len) continue;
      for (let j = 0; j < len; j++) if (buf[from + j] !== n[j]) continue outer;
      return k;
    }
    return -1;
  }
}

function skipWs(buf: Uint8Array, i: number, end: number): number {
  while (i < end && buf[i]! <= 0x20) i++;
  return i;
}

/** Whether the string stringEnd() last walked holds an escape (saves a second walk of each key). */
let escaped = false;

/** Index of the quote closing a string whose content starts at `i`, or -1. Sets `escaped`. */
function stringEnd(buf: Uint8Array, i: number, end: number): number {
  escaped = false;
  while (i < end) {
    const c = buf[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      escaped = true;
      i += 2;
    } else i++;
  }
  return -1;
}

/** The string whose content is [from, to); `esc`: it holds a backslash (stringEnd() told). */
function decodeString(buf: Uint8Array, from: number, to: number, esc: boolean, interner?: Interner): string | undefined {
  if (esc) {
    try {
      return JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + from - 1, to - from + 2).toString('utf8')) as string;
    } catch {
      return undefined;
    }
  }
  return interner ? interner.get(buf, from, to) : utf8(buf, from, to);
}

function literal(buf: Uint8Array, from: number, to: number): unknown {
  const c = buf[from]!;
  if (c === 0x74 && to - from === 4) return true; // true
  if (c === 0x66 && to - from === 5) return false; // false
  if (c === 0x6e && to - from === 4) return null; // null
  // A JSON number. Fast path: up to 15 digits with at most 22 after the point and no exponent;
  // the digits as an integer and 10^k are then both exact doubles, so one division rounds
  // correctly, to what JSON.parse gives (Clinger's fast path). Anything else goes through Number().
  let j = from;
  const neg = c === 0x2d;
  if (neg) j++;
  let mant = 0;
  let digits = 0;
  let frac = -1;
  const first = j;
  for (; j < to; j++) {
    const d = buf[j]! - 0x30;
    if (d >= 0 && d <= 9) {
      mant = mant * 10 + d;
      digits++;
      if (frac >= 0) frac++;
    } else if (d === -2 && frac < 0) frac = 0; // '.'
    else break;
  }
  const intDigits = frac < 0 ? digits : digits - frac;
  // Whole (digits only, or digits.digits), at least one digit before the point, no leading 0 but "0".
  if (j === to && intDigits > 0 && digits <= 15 && frac !== 0 && frac <= 22 && !(buf[first] === 0x30 && intDigits > 1)) {
    const v = frac > 0 ? mant / POW10[frac]! : mant;
    return neg ? -v : v;
  }
  let s = '';
  for (let k = from; k < to; k++) s += String.fromCharCode(buf[k]!);
  if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
