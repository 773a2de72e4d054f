// JSON texts whose integers past 2^53 must come out of GraphQL as they went in. The ingest keeps
// such integers (64-bit ids from Python, Go and Java services) digit for digit in properties,
// traits and context, and REST answers the stored text as it is; GraphQL builds objects of it
// (JSON.parse) and writes them again (JSON.stringify), which would round them.
//
// So a text that holds one is parsed with each such integer as a marker string ("\u0000", this
// process's nonce, ":", its index in `digits`), and the marker's JSON is swapped back for the
// digits in the written answer. The nonce keeps a sender's own string from passing for a marker.
// Rare, so the common text costs one regular-expression test (no 16 digits in a row: nothing to do).
import { randomBytes } from 'node:crypto';

const NONCE = randomBytes(6).toString('hex');
/** A marker as JSON.stringify writes it, with its index. */
const MARKER = new RegExp(`"\\\\u0000${NONCE}:(\\d+)"`, 'g');
/** A run of digits as long as the shortest integer JSON.parse rounds (2^53 + 1). */
const SIXTEEN_DIGITS = /\d{16}/;

/**
 * JSON.parse of `text`, each integer it would round as a marker whose digits are pushed on
 * `digits` (shared by every text of one answer). Throws as JSON.parse does.
 */
export function parseExact(text: string, digits: string[]): unknown {
  if (!SIXTEEN_DIGITS.test(text)) return JSON.parse(text);
  let out = '';
  let from = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Past the string: its closing quote is the first one not escaped.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integral = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e /* . */ || d === 0x65 /* e */ || d === 0x45 /* E */ || d === 0x2b /* + */ || d === 0x2d) integral = false;
        else break;
      }
      const token = text.slice(i, j);
      if (integral && j - i >= 16 && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(from, i)}"\\u0000${NONCE}:${digits.length}"`;
        digits.push(token);
        from = j;
      }
      i = j - 1;
    }
  }
  return JSON.parse(from === 0 ? text : out + text.slice(from));
}

/** JSON.stringify's text of a value parseExact made (or one holding such values), with the digits back. */
export function restoreDigits(json: string, digits: readonly string[]): string {
  return digits.length === 0 ? json : json.replace(MARKER, (_m, i: string) => digits[Number(i)]!);
}

/** A JSON text as JSON.stringify(JSON.parse(text)) writes it, but for the integers JSON.parse rounds. */
export function exactStringify(text: string): string {
  const digits: string[] = [];
  return restoreDigits(JSON.stringify(parseExact(text, digits)), digits);
}

/** `value` with its markers as the numbers JSON.parse would have read (for an answer written elsewhere). */
export function withoutMarkers(value: unknown, digits: readonly string[]): unknown {
  if (typeof value === 'string') {
    const m = value.startsWith(`\u0000${NONCE}:`) ? Number(value.slice(NONCE.length + 2)) : -1;
    return m >= 0 && m < digits.length ? Number(digits[m]) : value;
  }
  if (Array.isArray(value)) return value.map((v) => withoutMarkers(v, digits));
  if (typeof value === 'object' && value !== null) {
    // Defined, not assigned: JSON.parse makes a member named __proto__ an own property, and an
    // assignment would set the copy's prototype instead (or drop a primitive). Rare path.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: withoutMarkers(v, digits), writable: true, enumerable: true, configurable: true });
    return out;
  }
  return value;
}
