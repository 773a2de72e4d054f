// 64-bit identity hash of an event, (user_key, event_id), as two 32-bit halves.
//
// Two murmur3-style lanes with different seeds over the UTF-16 code units. It runs per event in
// the decode workers and per row when the sink rebuilds its resend window from ClickHouse, so it
// allocates nothing (no string concatenation, no BigInt). A false match would drop a real event:
// with 64 bits and a window of W events the chance per event is about W / 2^64 (1e-13 for W = 2M).

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Writes the hash of (a, b) to out[at] (high half) and out[at + 1] (low half). */
export function hashPair(a: string, b: string, out: Uint32Array, at: number): void {
  let h1 = 0x9747b28c;
  let h2 = 0x2f8a1d3b;
  const n = a.length + 1 + b.length;
  for (let i = 0; i < n; i++) {
    // The pair is hashed as a + '\0' + b without building that string.
    const c = i < a.length ? a.charCodeAt(i) : i === a.length ? 0 : b.charCodeAt(i - a.length - 1);
    let k = Math.imul(c, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let j = Math.imul(c ^ 0x5bd1e995, C2);
    j = (j << 17) | (j >>> 15);
    j = Math.imul(j, C1);
    h2 ^= j;
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
  }
  out[at] = fmix(h1 ^ n);
  out[at + 1] = fmix(h2 ^ Math.imul(n, 0x27d4eb2d));
}

/**
 * hashPair of two ASCII strings given as their bytes, a[aFrom, aTo) and b[bFrom, bTo) of one
 * buffer: the same hash (an ASCII byte is its UTF-16 code unit), without making the strings (the
 * view's decode threads read ids straight from the Avro bytes). Only for ASCII: other text hashes
 * its UTF-16 code units, which are not its bytes. The mixing repeats hashPair's on purpose: with
 * it in shared helper functions both ran ~25 % slower (2026-12-04, 2 M calls, 4 alternations).
 */
export function hashPairAscii(buf: Uint8Array, aFrom: number, aTo: number, bFrom: number, bTo: number, out: Uint32Array, at: number): void {
  let h1 = 0x9747b28c;
  let h2 = 0x2f8a1d3b;
  const an = aTo - aFrom;
  const n = an + 1 + (bTo - bFrom);
  for (let i = 0; i < n; i++) {
    const c = i < an ? buf[aFrom + i]! : i === an ? 0 : buf[bFrom + i - an - 1]!;
    let k = Math.imul(c, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let j = Math.imul(c ^ 0x5bd1e995, C2);
    j = (j << 17) | (j >>> 15);
    j = Math.imul(j, C1);
    h2 ^= j;
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
  }
  out[at] = fmix(h1 ^ n);
  out[at + 1] = fmix(h2 ^ Math.imul(n, 0x27d4eb2d));
}

/**
 * Writes a 64-bit hash of bytes [start, end) of `buf`, mixed with a 32-bit `seed`, to out[at]
 * (high half) and out[at + 1] (low half). For the stream processor, which has an event id's UTF-8
 * bytes in the record (never decoded) and its user key's 32-bit hash already: (seed, bytes) is its
 * identity. Four bytes a step, two murmur3-style lanes as above; not equal to hashPair's value
 * (the stream's window is its own).
 */
export function hashBytes(seed: number, buf: Uint8Array, start: number, end: number, out: Uint32Array, at: number): void {
  let h1 = 0x9747b28c ^ seed;
  let h2 = (0x2f8a1d3b + Math.imul(seed, 0x27d4eb2d)) | 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const c = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    let k = Math.imul(c, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let j = Math.imul(c ^ 0x5bd1e995, C2);
    j = (j << 17) | (j >>> 15);
    j = Math.imul(j, C1);
    h2 ^= j;
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
  }
  let c = 0;
  for (let s = 0; i < end; i++, s += 8) c |= buf[i]! << s;
  let k = Math.imul(c, C1);
  k = (k << 15) | (k >>> 17);
  h1 ^= Math.imul(k, C2);
  let j = Math.imul(c ^ 0x5bd1e995, C2);
  j = (j << 17) | (j >>> 15);
  h2 ^= Math.imul(j, C1);
  const n = end - start;
  out[at] = fmix(h1 ^ n);
  out[at + 1] = fmix(h2 ^ Math.imul(n, 0x27d4eb2d));
}
