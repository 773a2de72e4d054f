// Distinct users per bucket: a HyperLogLog sketch with 2^12 registers (standard error
// 1.04 / sqrt(4096) = 1.6 %), a 32-bit hash (12 bits pick the register, the other 20 give the
// rank), and Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
// sketches", 2017, algorithm 6), which needs no bias tables and keeps that error over the whole
// range, small counts included. Sketches merge exactly (register-wise max): an hour's sketch is
// the union of its minutes', and a user seen by two sources counts once in their union.
//
// Small sets are exact: a sketch starts as the set of the users' 32-bit hashes (an open-addressing
// table, 4 bytes a user) and turns into registers (one byte each, 4 KiB) past 256 users. So a
// minute with 40 users says 40, the many small groups of a rule (one per user, say) stay small,
// and only sets over 256 carry the sketch's error. (Two users whose hashes collide count once:
// about n^2 / 2^33 of n users, 0.0001 % of 256.)
//
// Why not a library: the npm sketches either keep registers as JS number arrays serialized to
// JSON, or have no sparse form and no stated estimator; this one is 150 lines and its error is
// checked by a test against exact counts.

export const HLL_P = 12;
const M = 1 << HLL_P;
const Q = 32 - HLL_P; // rank bits
/** Users kept exactly before the sketch turns into registers. */
export const EXACT_MAX = 256;
const ALPHA_INF = 1 / (2 * Math.log(2));

/** murmur3 (32-bit, x86) of bytes [start, end): the hash of a user key as Kafka carries it. */
export function murmur3(buf: Uint8Array, start = 0, end = buf.length, seed = 0x9747b28c): number {
  let h = seed | 0;
  let i = start;
  const blocks = end - ((end - start) & 3);
  for (; i < blocks; i += 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = end - i;
  if (rest > 0) {
    let k = buf[i]!;
    if (rest > 1) k ^= buf[i + 1]! << 8;
    if (rest > 2) k ^= buf[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= end - start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();
/** The same hash of a string's UTF-8 bytes. */
export function hashString(s: string): number {
  return murmur3(encoder.encode(s));
}

export class Hll {
  /** Exact form: an open-addressing set of hashes (0 = empty slot; hash 0 is stored as 1); null once dense. */
  private set: Uint32Array | null = new Uint32Array(8);
  private size = 0;
  private dense: Uint8Array | null = null;

  /** Adds a user by its 32-bit hash. */
  add(hash: number): void {
    if (this.dense !== null) {
      addRegister(this.dense, hash);
      return;
    }
    const h = hash === 0 ? 1 : hash >>> 0;
    let table = this.set!;
    let mask = table.length - 1;
    let i = h & mask;
    for (;;) {
      const e = table[i]!;
      if (e === h) return;
      if (e === 0) break;
      i = (i + 1) & mask;
    }
    if (this.size === EXACT_MAX) {
      this.toDense();
      addRegister(this.dense!, hash);
      return;
    }
    if ((this.size + 1) * 2 > table.length) {
      table = this.grow();
      mask = table.length - 1;
      i = h & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
    }
    table[i] = h;
    this.size++;
  }

  private grow(): Uint32Array {
    const old = this.set!;
    const table = new Uint32Array(old.length * 2);
    const mask = table.length - 1;
    for (const h of old) {
      if (h === 0) continue;
      let i = h & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = h;
    }
    this.set = table;
    return table;
  }

  private toDense(): void {
    const d = new Uint8Array(M);
    for (const h of this.set!) if (h !== 0) addRegister(d, h);
    this.dense = d;
    this.set = null;
    this.size = 0;
  }

  /** This sketch becomes the union of itself and `other`. */
  merge(other: Hll): void {
    if (other.dense !== null) {
      if (this.dense === null) this.toDense();
      maxInto(this.dense!, other.dense);
      return;
    }
    for (const h of other.set!) if (h !== 0) this.add(h);
  }

  /** Adds users by their hashes (the volume's fold: one call per cell, not per user). */
  addAll(hashes: readonly number[]): void {
    let i = 0;
    // Exact form: one at a time (it may turn dense on the way).
    for (; i < hashes.length && this.dense === null; i++) this.add(hashes[i]!);
    const d = this.dense;
    if (d === null) return;
    for (; i < hashes.length; i++) {
      const hash = hashes[i]!;
      const idx = hash >>> Q;
      const w = (hash << HLL_P) >>> 0;
      const rank = w === 0 ? Q + 1 : Math.clz32(w) + 1;
      if (d[idx]! < rank) d[idx] = rank;
    }
  }

  get empty(): boolean {
    return this.dense === null && this.size === 0;
  }

  /** True while the count is exact (at most EXACT_MAX users). */
  get exact(): boolean {
    return this.dense === null;
  }

  /** Distinct users: exact up to EXACT_MAX, else the sketch's estimate (rounded). */
  estimate(): number {
    if (this.dense === null) return this.size;
    const c = new Float64Array(Q + 2);
    for (let i = 0; i < M; i++) c[this.dense[i]!]!++;
    let z = M * tau(1 - c[Q + 1]! / M);
    for (let k = Q; k >= 1; k--) z = 0.5 * (z + c[k]!);
    z += M * sigma(c[0]! / M);
    return Math.round((ALPHA_INF * M * M) / z);
  }

  /** Bytes for the store: 0, then the hashes (u32 LE, ascending); or 1, then the 4096 registers. */
  toBytes(): Uint8Array {
    if (this.dense !== null) {
      const out = new Uint8Array(1 + M);
      out[0] = 1;
      out.set(this.dense, 1);
      return out;
    }
    // Sorted, so equal sets give equal bytes whatever the order users came in.
    const hashes = this.set!.filter((h) => h !== 0).sort();
    const out = new Uint8Array(1 + 4 * hashes.length);
    const view = new DataView(out.buffer);
    for (let i = 0; i < hashes.length; i++) view.setUint32(1 + 4 * i, hashes[i]!, true);
    return out;
  }

  static fromBytes(b: Uint8Array): Hll {
    const h = new Hll();
    if (b.length === 0) return h;
    if (b[0] === 1) {
      if (b.length !== 1 + M) throw new Error(`dense sketch of ${b.length} bytes, expected ${1 + M}`);
      h.dense = b.slice(1);
      h.set = null;
      return h;
    }
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 1; o + 3 < b.length; o += 4) h.add(view.getUint32(o, true));
    return h;
  }

  clone(): Hll {
    return Hll.fromBytes(this.toBytes());
  }
}

/**
 * a[i] = max(a[i], b[i]) for the 4096 registers, four at a time: registers hold at most Q + 1 =
 * 21, so each byte's high bit is free, and ((a | 0x80) - b) keeps it set exactly where a >= b
 * with no borrow into the next byte. The merge is most of what a distinct-count window costs
 * (a sliding window merges every bucket's sketch); this is about 3 times the byte loop's speed.
 */
function maxInto(a: Uint8Array, b: Uint8Array): void {
  if ((a.byteOffset & 3) !== 0 || (b.byteOffset & 3) !== 0) {
    for (let i = 0; i < M; i++) if (a[i]! < b[i]!) a[i] = b[i]!;
    return;
  }
  const a32 = new Uint32Array(a.buffer, a.byteOffset, M >>> 2);
  const b32 = new Uint32Array(b.buffer, b.byteOffset, M >>> 2);
  for (let i = 0; i < a32.length; i++) {
    const x = a32[i]!;
    const y = b32[i]!;
    if (x === y) continue;
    const ge = ((x | 0x80808080) - y) & 0x80808080;
    const mask = (ge >>> 7) * 0xff;
    a32[i] = (x & mask) | (y & ~mask);
  }
}

function addRegister(d: Uint8Array, hash: number): void {
  const idx = hash >>> Q;
  const w = (hash << HLL_P) >>> 0;
  const rank = w === 0 ? Q + 1 : Math.clz32(w) + 1;
  if (d[idx]! < rank) d[idx] = rank;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let prev: number;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z !== prev);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let prev: number;
  do {
    x = Math.sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (z !== prev);
  return z / 3;
}
