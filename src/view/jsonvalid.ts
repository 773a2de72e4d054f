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
// Hot path (every event the view takes in, three texts each): one pass over UTF-16 code units, no
// allocation except for the rare number that needs Number() to decide. Texts come from Avro
// strings, which decode to well-formed UTF-16, and reach ClickHouse as UTF-8: every code unit at or
// above 0x20 is a valid string character on both sides.

const MAX_DEPTH = 1024;
const UINT64_MAX = '18446744073709551615';
const INT64_MIN_ABS = '9223372036854775808';

/** isValidJSON(text) as ClickHouse answers it. */
export function isValidJson(text: string): boolean {
  if (text === '{}') return true;
  const p = new Parser(text);
  return p.document();
}

class Parser {
  private i = 0;
  private readonly n: number;

  constructor(private readonly s: string) {
    this.n = s.length;
  }

  document(): boolean {
    if (this.s.charCodeAt(0) === 0xfeff) this.i = 1;
    this.ws();
    if (!this.value(1)) return false;
    this.ws();
    return this.i === this.n;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    }
    this.i = i;
  }

  /** A value at `depth` (1 = top level). */
  private value(depth: number): boolean {
    if (depth > MAX_DEPTH) return false;
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.word('true');
      case 0x66: // f
        return this.word('false');
      case 0x6e: // n
        return this.word('null');
      default:
        return c === 0x2d || (c >= 0x30 && c <= 0x39) ? this.number() : false;
    }
  }

  private word(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    this.i += w.length;
    return true;
  }

  private object(depth: number): boolean {
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return true;
    }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== 0x22 || !this.string()) return false;
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) return false;
      this.i++;
      this.ws();
      if (!this.value(depth + 1)) return false;
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) return true;
      if (c !== 0x2c) return false;
      this.ws();
    }
  }

  private array(depth: number): boolean {
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return true;
    }
    for (;;) {
      if (!this.value(depth + 1)) return false;
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) return true;
      if (c !== 0x2c) return false;
      this.ws();
    }
  }

  private string(): boolean {
    const s = this.s;
    let i = this.i + 1;
    for (;;) {
      if (i >= this.n) return false;
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return true;
      }
      if (c < 0x20) return false;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const e = s.charCodeAt(i + 1);
      if (e === 0x75 /* u */) {
        const u = hex4(s, i + 2);
        if (u < 0) return false;
        i += 6;
        if (u >= 0xdc00 && u <= 0xdfff) return false; // a low surrogate with no high one before it
        if (u >= 0xd800 && u <= 0xdbff) {
          if (s.charCodeAt(i) !== 0x5c || s.charCodeAt(i + 1) !== 0x75) return false;
          const low = hex4(s, i + 2);
          if (low < 0xdc00 || low > 0xdfff) return false;
          i += 6;
        }
        continue;
      }
      // " \ / b f n r t
      if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
        continue;
      }
      return false;
    }
  }

  private number(): boolean {
    const s = this.s;
    const start = this.i;
    let i = start;
    const negative = s.charCodeAt(i) === 0x2d;
    if (negative) i++;
    const intStart = i;
    let c = s.charCodeAt(i);
    if (c === 0x30) {
      i++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (i < this.n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    } else {
      return false;
    }
    const intEnd = i;
    let integer = true;
    let exponent = false;
    if (s.charCodeAt(i) === 0x2e) {
      integer = false;
      i++;
      const f = i;
      while (i < this.n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
      if (i === f) return false;
    }
    c = s.charCodeAt(i);
    if (c === 0x65 || c === 0x45) {
      integer = false;
      exponent = true;
      i++;
      c = s.charCodeAt(i);
      if (c === 0x2b || c === 0x2d) i++;
      const f = i;
      while (i < this.n && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
      if (i === f) return false;
    }
    this.i = i;
    const digits = intEnd - intStart;
    if (integer) {
      // No leading zeros in JSON, so the digit count orders the values.
      const limit = negative ? INT64_MIN_ABS : UINT64_MAX;
      if (digits < limit.length) return true;
      if (digits > limit.length) return false;
      return s.slice(intStart, intEnd) <= limit;
    }
    // A double overflows only with an exponent or more than 308 integer digits.
    if (!exponent && digits <= 308) return true;
    return Number.isFinite(Number(s.slice(start, i)));
  }
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
