// Pieces of the random-and-hostile JSON generators of the scanner's differential tests
// (src/ingest/jsontext.test.ts, src/ingest/formats/prepared.test.ts): deterministic, so a failing
// case comes back with the same seed. Also wide integers for the end-to-end tests.
import { randomInt } from 'node:crypto';

/** xorshift32 from `seed`: numbers in [0, 1). */
export function xorshift32(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** A JSON string of up to 5 of `chars`, escaped where JSON must and, with probability `noise`, where it need not. */
export function hostileString(rnd: () => number, chars: readonly string[], noise: number): string {
  const n = Math.floor(rnd() * 6);
  let out = '"';
  for (let i = 0; i < n; i++) {
    const c = chars[Math.floor(rnd() * chars.length)]!;
    const code = c.charCodeAt(0);
    const r = rnd();
    if (c === '"' || c === '\\' || code < 0x20 || r < noise) {
      if (c === '\n' && r < 0.5) out += '\\n';
      else if (c === '"') out += '\\"';
      else if (c === '\\') out += '\\\\';
      else if (c === '/' && r < 0.1) out += '\\/';
      else out += c.length === 1 ? `\\u${code.toString(16).padStart(4, '0')}` : c;
    } else out += c;
  }
  return `${out}"`;
}

/**
 * `text` (JSON text, or a bare id) with each integer of 16 to 20 digits written as JSON.stringify
 * writes the double JSON.parse reads for it. The scanner keeps a wide integer's digits
 * (src/ingest/jsontext.ts integerKind) where JSON.parse + JSON.stringify round them; the rest of
 * what both paths store must agree exactly. Numbers are found after `:`, `,` or `[` (or as the
 * whole text): the generators' strings hold at most five characters, so none is taken for one.
 */
export function roundedWide(text: string): string {
  return text.replace(/(^|[:,[])(-?[1-9]\d{15,19})(?=$|[,\]}])/g, (_, before: string, n: string) => before + String(Number(n)));
}

/** A random UInt64 above Int64's range that no double holds (odd: doubles there are multiples of 2048), as text. */
export function wideId(): string {
  return `1${String(randomInt(10 ** 9)).padStart(9, '0')}${String(randomInt(10 ** 9)).padStart(9, '0')}`.replace(/\d$/, (d) => String(Number(d) | 1));
}
