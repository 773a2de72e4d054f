// Whether ClickHouse's isValidJSON accepts a text, decided exactly in Node. The query API renders a
// stored JSON text as `null` when ClickHouse would not accept it, and the view must render every
// event byte for byte as ClickHouse's rows are rendered, so this is a full validator, not a guess.
//
// ClickHouse parses with simdjson; checked against chDB (test/integration/view-jsonvalid.test.ts):
// - the grammar is RFC 8259 (what JSON.parse accepts), with one leading UTF-8 BOM allowed;
// - a value nested in more than 1024 levels is refused: a value's depth is 1 plus the containers
//   around it, so 1024 nested empty arrays pass and 1024 arrays around a number do not;
// - a \u escape of a surrogate must be a high one followed at once by an escaped low one;
// - an integer (no fraction, no exponent) must fit UInt64, or Int64 when negative;
// - any other number must be finite as a double (1e400 is refused, 1e-400 is 0 and passes).
//
// Hot path (every event the view takes in, three texts each): one loop over UTF-16 code units with
// an explicit stack, no recursion and no allocation except for the rare number that needs Number()
// to decide; about as fast as JSON.parse here, without the garbage. Texts come from Avro strings,
// which decode to well-formed UTF-16, and reach ClickHouse as UTF-8: every code unit at or above
// 0x20 is a valid string character on both sides.
//
// The same walk also decides whether a valid text is canonical: exactly what
// JSON.stringify(JSON.parse(text)) gives back (no whitespace, numbers and string escapes as
// JSON.stringify writes them, no repeated key, no key JSON.parse would move: one starting with a
// digit is taken as one). GraphQL answers such a text by copying its bytes (src/graphql/fastpage.ts);
// any other is parsed and serialized again. Conservative: a text refused here may still be canonical.

import { INT64_MIN_DIGITS, MAX_JSON_DEPTH, UINT64_MAX_DIGITS } from '../schema/index.js';

const MAX_DEPTH = MAX_JSON_DEPTH;
/** Open containers, innermost last: 1 = object, 2 = array. */
const stack = new Uint8Array(MAX_DEPTH + 2);

/** Whether the text checked last is canonical so far (see above); only meaningful while valid. */
let canon = true;
/** Keys of the open objects (start, end in the text), for repeated keys; firstKey[d]: the first of depth d. */
const KEYS_TRACKED = 32;
const keyStart = new Int32Array((MAX_DEPTH + 2) * KEYS_TRACKED);
const keyEnd = new Int32Array((MAX_DEPTH + 2) * KEYS_TRACKED);
const firstKey = new Int32Array(MAX_DEPTH + 2);
let keyTop = 0;

/** Notes the key s[a, b) (quotes included) of the object at `depth`: repeated or digit-first ones are not canonical. */
function noteKey(s: string, a: number, b: number, depth: number): void {
  const c = s.charCodeAt(a + 1);
  if ((c >= 0x30 && c <= 0x39) || keyTop - firstKey[depth]! >= KEYS_TRACKED) {
    canon = false;
    return;
  }
  const n = b - a;
  for (let k = firstKey[depth]!; k < keyTop; k++) {
    if (keyEnd[k]! - keyStart[k]! !== n) continue;
    const o = keyStart[k]!;
    let j = 1;
    while (j < n && s.charCodeAt(o + j) === s.charCodeAt(a + j)) j++;
    if (j === n) {
      canon = false;
      return;
    }
  }
  keyStart[keyTop] = a;
  keyEnd[keyTop++] = b;
}

function hex4(s: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = s.charCodeAt(at + k);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Index after the string starting at the quote `i`, or -1. */
function str(s: string, i: number, n: number): number {
  i++;
  for (;;) {
    if (i >= n) return -1;
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c >= 0x20 && c !== 0x5c) {
      if (c >= 0xd800 && c <= 0xdfff) {
        // A surrogate pair is a character; a lone surrogate JSON.stringify would escape.
        const d = s.charCodeAt(i + 1);
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) i++;
        else canon = false;
      }
      i++;
      continue;
    }
    if (c < 0x20) return -1;
    const e = s.charCodeAt(i + 1);
    if (e === 0x75) {
      const u = hex4(s, i + 2);
      if (u < 0) return -1;
      // JSON.stringify escapes (as \u00xx, lower-case hex) only the controls without a short escape.
      if (u >= 0x20 || u === 0x08 || u === 0x09 || u === 0x0a || u === 0x0c || u === 0x0d || (s.charCodeAt(i + 5) >= 0x41 && s.charCodeAt(i + 5) <= 0x46)) canon = false;
      i += 6;
      if (u >= 0xdc00 && u <= 0xdfff) return -1;
      if (u >= 0xd800 && u <= 0xdbff) {
        if (s.charCodeAt(i) !== 0x5c || s.charCodeAt(i + 1) !== 0x75) return -1;
        const low = hex4(s, i + 2);
        if (low < 0xdc00 || low > 0xdfff) return -1;
        i += 6;
      }
    } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      if (e === 0x2f) canon = false;
      i += 2;
    } else return -1;
  }
}

/** Index after the number at `i`, or -1. */
function num(s: string, i: number, n: number): number {
  const start = i;
  const negative = s.charCodeAt(i) === 0x2d;
  if (negative) i++;
  const intStart = i;
  let c = s.charCodeAt(i);
  if (c === 0x30) i++;
  else if (c >= 0x31 && c <= 0x39) {
    i++;
    while (i < n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
  } else return -1;
  const digits = i - intStart;
  let integer = true;
  let exponent = false;
  if (s.charCodeAt(i) === 0x2e) {
    integer = false;
    i++;
    const f = i;
    while (i < n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    if (i === f) return -1;
  }
  c = s.charCodeAt(i);
  if (c === 0x65 || c === 0x45) {
    integer = false;
    exponent = true;
    i++;
    c = s.charCodeAt(i);
    if (c === 0x2b || c === 0x2d) i++;
    const f = i;
    while (i < n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    if (i === f) return -1;
  }
  if (canon) {
    // As JSON.stringify writes it: integers of up to 15 digits always (but -0), others when Number() gives them back.
    if (integer && digits <= 15) {
      if (negative && digits === 1 && s.charCodeAt(intStart) === 0x30) canon = false;
    } else if (String(Number(s.slice(start, i))) !== s.slice(start, i)) canon = false;
  }
  if (integer) {
    if (digits < 19) return i;
    const limit = negative ? INT64_MIN_DIGITS : UINT64_MAX_DIGITS;
    if (digits < limit.length) return i;
    if (digits > limit.length) return -1;
    return s.slice(intStart, intStart + digits) <= limit ? i : -1;
  }
  if (!exponent && digits <= 308) return i;
  return Number.isFinite(Number(s.slice(start, i))) ? i : -1;
}

function ws(s: string, i: number, n: number): number {
  const from = i;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  if (i !== from) canon = false;
  return i;
}

/** Whether the text isValidJson() accepted last is canonical (see the top of this file). */
export function wasCanonical(): boolean {
  return canon;
}

/** isValidJSON(text) as ClickHouse answers it; wasCanonical() then says whether it is canonical. */
export function isValidJson(s: string): boolean {
  canon = true;
  keyTop = 0;
  if (s === '{}') return true;
  const n = s.length;
  let i = 0;
  if (s.charCodeAt(0) === 0xfeff) {
    i = 1;
    canon = false;
  }
  let depth = 0;
  for (;;) {
    // A value is expected here; its depth is 1 + the containers open.
    i = ws(s, i, n);
    if (depth + 1 > MAX_DEPTH) return false; // this value's depth
    const c = s.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      stack[++depth] = c === 0x7b ? 1 : 2;
      firstKey[depth] = keyTop;
      i = ws(s, i + 1, n);
      const close = s.charCodeAt(i);
      if (close === (c === 0x7b ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else if (c === 0x7b) {
        // The first member's key.
        if (close !== 0x22) return false;
        const a = i;
        i = str(s, i, n);
        if (i < 0) return false;
        if (canon) noteKey(s, a, i, depth);
        i = ws(s, i, n);
        if (s.charCodeAt(i) !== 0x3a) return false;
        i++;
        continue;
      } else {
        continue;
      }
    } else if (c === 0x22) {
      i = str(s, i, n);
      if (i < 0) return false;
    } else if (c === 0x74) {
      if (!s.startsWith('true', i)) return false;
      i += 4;
    } else if (c === 0x66) {
      if (!s.startsWith('false', i)) return false;
      i += 5;
    } else if (c === 0x6e) {
      if (!s.startsWith('null', i)) return false;
      i += 4;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = num(s, i, n);
      if (i < 0) return false;
    } else return false;
    // After a value: close containers, or go on to the next element or member.
    for (;;) {
      i = ws(s, i, n);
      if (depth === 0) return i === n;
      const d = s.charCodeAt(i);
      if (d === 0x2c) {
        i = ws(s, i + 1, n);
        if (stack[depth] === 1) {
          if (s.charCodeAt(i) !== 0x22) return false;
          const a = i;
          i = str(s, i, n);
          if (i < 0) return false;
          if (canon) noteKey(s, a, i, depth);
          i = ws(s, i, n);
          if (s.charCodeAt(i) !== 0x3a) return false;
          i++;
        }
        break;
      }
      if (d === (stack[depth] === 1 ? 0x7d : 0x5d)) {
        if (stack[depth] === 1) keyTop = firstKey[depth]!;
        depth--;
        i++;
        continue;
      }
      return false;
    }
  }
}

// ---- The same decision on a text's UTF-8 bytes ----
//
// The view's decode threads render a record straight from its Avro bytes (./avrorow.ts), so its
// JSON texts are never made JS strings. The walk below is the one above on bytes: JSON's grammar is
// ASCII outside strings, and inside a string every code unit at or above 0x20 is a character on both
// sides, so a UTF-16 unit and a UTF-8 byte are taken alike; well-formed UTF-8 holds no lone
// surrogate, so the surrogate-pair check has nothing to do (the caller checks the bytes are
// well-formed UTF-8, src/view/avrorow.ts). A UTF-8 byte order mark is 3 bytes (EF BB BF). Kept as a
// separate copy, not a generic walk, so each stays monomorphic on its hot path (strings or bytes).
// src/view/avrorow.test.ts holds both walks to the same answers.

/** Whether the last bytes checked held a byte at or above 0x80 (inside a string: the only place it can be valid). */
let high = false;

/** Whether isValidJsonBytes() met a non-ASCII byte in the text it accepted last. */
export function hadNonAscii(): boolean {
  return high;
}

function noteKeyB(s: Uint8Array, a: number, b: number, depth: number): void {
  const c = s[a + 1]!;
  if ((c >= 0x30 && c <= 0x39) || keyTop - firstKey[depth]! >= KEYS_TRACKED) {
    canon = false;
    return;
  }
  const n = b - a;
  for (let k = firstKey[depth]!; k < keyTop; k++) {
    if (keyEnd[k]! - keyStart[k]! !== n) continue;
    const o = keyStart[k]!;
    let j = 1;
    while (j < n && s[o + j] === s[a + j]) j++;
    if (j === n) {
      canon = false;
      return;
    }
  }
  keyStart[keyTop] = a;
  keyEnd[keyTop++] = b;
}

function hex4B(s: Uint8Array, at: number, n: number): number {
  if (at + 4 > n) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = s[at + k]!;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Byte at i of s[0, n), or -1 past the end (the string walk's NaN). */
const at = (s: Uint8Array, i: number, n: number) => (i < n ? s[i]! : -1);

function strB(s: Uint8Array, i: number, n: number): number {
  i++;
  for (;;) {
    if (i >= n) return -1;
    const c = s[i]!;
    if (c === 0x22) return i + 1;
    if (c >= 0x20 && c !== 0x5c) {
      if (c >= 0x80) high = true;
      i++;
      continue;
    }
    if (c < 0x20) return -1;
    const e = at(s, i + 1, n);
    if (e === 0x75) {
      const u = hex4B(s, i + 2, n);
      if (u < 0) return -1;
      const h = s[i + 5]!;
      if (u >= 0x20 || u === 0x08 || u === 0x09 || u === 0x0a || u === 0x0c || u === 0x0d || (h >= 0x41 && h <= 0x46)) canon = false;
      i += 6;
      if (u >= 0xdc00 && u <= 0xdfff) return -1;
      if (u >= 0xd800 && u <= 0xdbff) {
        if (at(s, i, n) !== 0x5c || at(s, i + 1, n) !== 0x75) return -1;
        const low = hex4B(s, i + 2, n);
        if (low < 0xdc00 || low > 0xdfff) return -1;
        i += 6;
      }
    } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      if (e === 0x2f) canon = false;
      i += 2;
    } else return -1;
  }
}

/** s[a, b) as a string (ASCII: digits and signs of a number). */
function ascii(s: Uint8Array, a: number, b: number): string {
  let t = '';
  for (let i = a; i < b; i++) t += String.fromCharCode(s[i]!);
  return t;
}

function numB(s: Uint8Array, i: number, n: number): number {
  const start = i;
  const negative = s[i] === 0x2d;
  if (negative) i++;
  const intStart = i;
  let c = at(s, i, n);
  if (c === 0x30) i++;
  else if (c >= 0x31 && c <= 0x39) {
    i++;
    while (i < n && (c = s[i]!) >= 0x30 && c <= 0x39) i++;
  } else return -1;
  const digits = i - intStart;
  let integer = true;
  let exponent = false;
  if (at(s, i, n) === 0x2e) {
    integer = false;
    i++;
    const f = i;
    while (i < n && (c = s[i]!) >= 0x30 && c <= 0x39) i++;
    if (i === f) return -1;
  }
  c = at(s, i, n);
  if (c === 0x65 || c === 0x45) {
    integer = false;
    exponent = true;
    i++;
    c = at(s, i, n);
    if (c === 0x2b || c === 0x2d) i++;
    const f = i;
    while (i < n && (c = s[i]!) >= 0x30 && c <= 0x39) i++;
    if (i === f) return -1;
  }
  if (canon) {
    if (integer && digits <= 15) {
      if (negative && digits === 1 && s[intStart] === 0x30) canon = false;
    } else {
      const t = ascii(s, start, i);
      if (String(Number(t)) !== t) canon = false;
    }
  }
  if (integer) {
    if (digits < 19) return i;
    const limit = negative ? INT64_MIN_DIGITS : UINT64_MAX_DIGITS;
    if (digits < limit.length) return i;
    if (digits > limit.length) return -1;
    return ascii(s, intStart, intStart + digits) <= limit ? i : -1;
  }
  if (!exponent && digits <= 308) return i;
  return Number.isFinite(Number(ascii(s, start, i))) ? i : -1;
}

function wsB(s: Uint8Array, i: number, n: number): number {
  const from = i;
  while (i < n) {
    const c = s[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  if (i !== from) canon = false;
  return i;
}

function word(s: Uint8Array, i: number, n: number, w: string): boolean {
  if (i + w.length > n) return false;
  for (let k = 0; k < w.length; k++) if (s[i + k] !== w.charCodeAt(k)) return false;
  return true;
}

/**
 * isValidJson() of the text whose well-formed UTF-8 is s[from, to): the same answer, and the same
 * wasCanonical(); hadNonAscii() then says whether a string in it held non-ASCII bytes (the caller
 * must then check them for well-formed UTF-8 before relying on the answer).
 */
export function isValidJsonBytes(b: Uint8Array, from: number, to: number): boolean {
  canon = true;
  keyTop = 0;
  high = false;
  // Offsets into the whole buffer, every read bounded by `n` (no view allocated per text).
  const s = b;
  const n = to;
  let i = from;
  if (to - from === 2 && s[i] === 0x7b && s[i + 1] === 0x7d) return true;
  if (to - from >= 3 && s[i] === 0xef && s[i + 1] === 0xbb && s[i + 2] === 0xbf) {
    i += 3;
    canon = false;
  }
  let depth = 0;
  for (;;) {
    i = wsB(s, i, n);
    if (depth + 1 > MAX_DEPTH) return false;
    const c = at(s, i, n);
    if (c === 0x7b || c === 0x5b) {
      stack[++depth] = c === 0x7b ? 1 : 2;
      firstKey[depth] = keyTop;
      i = wsB(s, i + 1, n);
      const close = at(s, i, n);
      if (close === (c === 0x7b ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else if (c === 0x7b) {
        if (close !== 0x22) return false;
        const a = i;
        i = strB(s, i, n);
        if (i < 0) return false;
        if (canon) noteKeyB(s, a, i, depth);
        i = wsB(s, i, n);
        if (at(s, i, n) !== 0x3a) return false;
        i++;
        continue;
      } else {
        continue;
      }
    } else if (c === 0x22) {
      i = strB(s, i, n);
      if (i < 0) return false;
    } else if (c === 0x74) {
      if (!word(s, i, n, 'true')) return false;
      i += 4;
    } else if (c === 0x66) {
      if (!word(s, i, n, 'false')) return false;
      i += 5;
    } else if (c === 0x6e) {
      if (!word(s, i, n, 'null')) return false;
      i += 4;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = numB(s, i, n);
      if (i < 0) return false;
    } else return false;
    for (;;) {
      i = wsB(s, i, n);
      if (depth === 0) return i === n;
      const d = at(s, i, n);
      if (d === 0x2c) {
        i = wsB(s, i + 1, n);
        if (stack[depth] === 1) {
          if (at(s, i, n) !== 0x22) return false;
          const a = i;
          i = strB(s, i, n);
          if (i < 0) return false;
          if (canon) noteKeyB(s, a, i, depth);
          i = wsB(s, i, n);
          if (at(s, i, n) !== 0x3a) return false;
          i++;
        }
        break;
      }
      if (d === (stack[depth] === 1 ? 0x7d : 0x5d)) {
        if (stack[depth] === 1) keyTop = firstKey[depth]!;
        depth--;
        i++;
        continue;
      }
      return false;
    }
  }
}
