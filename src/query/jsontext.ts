// Whether ClickHouse's isValidJSON accepts a text, decided in Node for the rows the cache takes in
// straight from the sink (the SQL path asks ClickHouse itself). The two must agree byte for byte,
// so this answers only when it is sure, and null otherwise (the cache then reloads the user).
//
// ClickHouse (simdjson) accepts what JSON.parse accepts, except (checked against chDB; see
// test/integration/query-jsontext.test.ts): nesting deeper than 1024, \u escapes of lone
// surrogates, integers outside Int64/UInt64, and numbers outside a double's range. Texts written
// by the ingest rarely come near those; any sign of them makes the answer null.

const MAX_DEPTH = 512;
/** 18 digits always fit an Int64; 19 or more may not. */
const MAX_INTEGER_DIGITS = 18;
/** Exponents of 3 digits may overflow a double. */
const MAX_EXPONENT_DIGITS = 2;

/** true / false: isValidJSON's answer; null: not sure. */
export function isValidJsonText(text: string): boolean | null {
  if (text === '{}') return true;
  try {
    JSON.parse(text);
  } catch {
    // '' and truncated or foreign texts: ClickHouse refuses them too, but nothing is assumed.
    return text === '' ? false : null;
  }
  return withinClickHouseLimits(text) ? true : null;
}

/** For a text JSON.parse accepted: none of the forms on which ClickHouse may disagree. */
function withinClickHouseLimits(text: string): boolean {
  let depth = 0;
  let inString = false;
  let digits = 0;
  let fraction = false;
  let exponent = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) {
        // \uD800-\uDFFF: a surrogate, lone or paired; either way, not sure.
        if (text.charCodeAt(i + 1) === 0x75 /* u */) {
          const d = text.charCodeAt(i + 2) | 0x20;
          const h = text.charCodeAt(i + 3) | 0x20;
          if (d === 0x64 /* d */ && ((h >= 0x38 && h <= 0x39) || (h >= 0x61 && h <= 0x66))) return false;
        }
        i++;
      } else if (c === 0x22 /* " */) {
        inString = false;
      }
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      if (exponent >= 0) {
        if (++exponent > MAX_EXPONENT_DIGITS) return false;
      } else if (!fraction && ++digits > MAX_INTEGER_DIGITS) {
        return false;
      }
      continue;
    }
    if (c === 0x2e /* . */) {
      fraction = true;
      continue;
    }
    if (c === 0x65 || c === 0x45 /* e E */) {
      exponent = 0;
      continue;
    }
    if (c === 0x2b || c === 0x2d /* + - */) continue;
    digits = 0;
    fraction = false;
    exponent = -1;
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b /* { [ */) {
      if (++depth > MAX_DEPTH) return false;
    } else if (c === 0x7d || c === 0x5d /* } ] */) depth--;
  }
  return true;
}
