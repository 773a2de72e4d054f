// The window of recent event identities of one Kafka partition, to drop client resends. The sink
// and the query API's view each keep one per partition, fed the same records in the same order with
// the same bounds (SINK_DEDUP_WINDOW_*), so both drop the same resends.
//
// A client that got no reply resends the same messageId; the edge writes it again, to the same
// partition (the key is the user), with a new offset. Before rows go to ClickHouse (or the view),
// each one's (user_key, event_id) hash is looked up here and remembered. The window holds the last
// `capacity` identities in Kafka order, and forgets those that arrived more than `windowMs`
// before the newest one (0: no time limit).
//
// Compact on purpose: a ring of 64-bit hashes plus their arrival second (12 bytes per event) and
// an open-addressing index of ring slots (linear probing, kept at most half full, deletion by
// backward shift), all typed arrays that grow by doubling up to `capacity`. No per-event objects,
// so a window of millions costs tens of MB and no GC time.

const EMPTY = -1;
const INITIAL = 1024;

export class ResendWindow {
  readonly capacity: number;
  private readonly windowSec: number;
  private hi: Uint32Array;
  private lo: Uint32Array;
  private sec: Uint32Array;
  private index: Int32Array;
  private mask: number;
  /** Next ring slot to write; the oldest entry is at (head - count) mod ring length. */
  private head = 0;
  private count = 0;
  private newestSec = 0;

  constructor(capacity: number, windowMs: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    this.windowSec = Math.ceil(windowMs / 1000);
    const len = Math.min(this.capacity, INITIAL);
    this.hi = new Uint32Array(len);
    this.lo = new Uint32Array(len);
    this.sec = new Uint32Array(len);
    this.index = new Int32Array(tableSize(len)).fill(EMPTY);
    this.mask = this.index.length - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.hi.byteLength * 3 + this.index.byteLength;
  }

  has(hi: number, lo: number): boolean {
    return this.find(hi >>> 0, lo >>> 0) !== EMPTY;
  }

  /**
   * True if the identity is in the window (a resend: drop the row). Otherwise remembers it,
   * forgetting the oldest entries beyond the count or time bound, and returns false.
   */
  seen(hi: number, lo: number, receivedAtMs: number): boolean {
    if (this.capacity === 0) return false;
    hi >>>= 0;
    lo >>>= 0;
    if (this.find(hi, lo) !== EMPTY) return true;
    const s = receivedAtMs > 0 ? Math.min(Math.floor(receivedAtMs / 1000), 0xffffffff) : 0;
    if (s > this.newestSec) {
      this.newestSec = s;
      if (this.windowSec > 0) this.expire(s - this.windowSec);
    }
    this.insert(hi, lo, s);
    return false;
  }

  /** Appends an identity known to be absent. */
  private insert(hi: number, lo: number, s: number): void {
    if (this.capacity === 0) return;
    if (this.count === this.hi.length) {
      if (this.hi.length < this.capacity) this.grow();
      else this.evictOldest();
    }
    const slot = this.head;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.sec[slot] = s;
    this.head = slot + 1 === this.hi.length ? 0 : slot + 1;
    this.count++;
    let p = lo & this.mask;
    while (this.index[p] !== EMPTY) p = (p + 1) & this.mask;
    this.index[p] = slot;
  }

  /**
   * The window's entries, oldest first, as bytes (12 per entry plus a header): restore() rebuilds
   * the same window from them.
   */
  snapshot(): Buffer {
    const out = Buffer.allocUnsafe(8 + this.count * 12);
    out.writeUInt32LE(this.count, 0);
    out.writeUInt32LE(this.newestSec, 4);
    const len = this.hi.length;
    const start = this.oldestSlot();
    for (let i = 0; i < this.count; i++) {
      const from = (start + i) % len;
      const at = 8 + i * 12;
      out.writeUInt32LE(this.hi[from]!, at);
      out.writeUInt32LE(this.lo[from]!, at + 4);
      out.writeUInt32LE(this.sec[from]!, at + 8);
    }
    return out;
  }

  /** Whether `bytes` are a whole snapshot(): its header, then the 12 bytes of each entry it counts. */
  static isSnapshot(bytes: Uint8Array): boolean {
    if (bytes.byteLength < 8) return false;
    const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
    return bytes.byteLength === 8 + count * 12;
  }

  /** A window with the entries of a snapshot() (the newest `capacity` of them). */
  static restore(bytes: Uint8Array, capacity: number, windowMs: number): ResendWindow {
    const w = new ResendWindow(capacity, windowMs);
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = b.readUInt32LE(0);
    const first = Math.max(0, count - w.capacity);
    for (let i = first; i < count; i++) {
      const at = 8 + i * 12;
      w.insert(b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readUInt32LE(at + 8));
    }
    w.newestSec = Math.max(w.newestSec, b.readUInt32LE(4));
    return w;
  }

  clear(): void {
    this.index.fill(EMPTY);
    this.head = 0;
    this.count = 0;
    this.newestSec = 0;
  }

  private find(hi: number, lo: number): number {
    let p = lo & this.mask;
    for (;;) {
      const slot = this.index[p]!;
      if (slot === EMPTY) return EMPTY;
      if (this.lo[slot] === lo && this.hi[slot] === hi) return p;
      p = (p + 1) & this.mask;
    }
  }

  private oldestSlot(): number {
    const len = this.hi.length;
    return (this.head - this.count + len) % len;
  }

  private expire(cutoffSec: number): void {
    // Arrival times are nearly, not strictly, in Kafka order: stop at the first entry still inside.
    while (this.count > 0 && this.sec[this.oldestSlot()]! < cutoffSec) this.evictOldest();
  }

  private evictOldest(): void {
    const slot = this.oldestSlot();
    let p = this.lo[slot]! & this.mask;
    while (this.index[p] !== slot) p = (p + 1) & this.mask;
    this.count--;
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    let hole = p;
    let q = p;
    for (;;) {
      q = (q + 1) & this.mask;
      const s = this.index[q]!;
      if (s === EMPTY) break;
      const home = this.lo[s]! & this.mask;
      const between = hole <= q ? hole < home && home <= q : hole < home || home <= q;
      if (between) continue;
      this.index[hole] = s;
      hole = q;
    }
    this.index[hole] = EMPTY;
  }

  private grow(): void {
    const oldLen = this.hi.length;
    const len = Math.min(this.capacity, oldLen * 2);
    const hi = new Uint32Array(len);
    const lo = new Uint32Array(len);
    const sec = new Uint32Array(len);
    const start = this.oldestSlot();
    for (let i = 0; i < this.count; i++) {
      const from = (start + i) % oldLen;
      hi[i] = this.hi[from]!;
      lo[i] = this.lo[from]!;
      sec[i] = this.sec[from]!;
    }
    this.hi = hi;
    this.lo = lo;
    this.sec = sec;
    this.head = this.count % len;
    this.index = new Int32Array(tableSize(len)).fill(EMPTY);
    this.mask = this.index.length - 1;
    for (let i = 0; i < this.count; i++) {
      let p = lo[i]! & this.mask;
      while (this.index[p] !== EMPTY) p = (p + 1) & this.mask;
      this.index[p] = i;
    }
  }
}

/** A power of two at least twice `len`, so probe chains stay short. */
function tableSize(len: number): number {
  let n = 2;
  while (n < len * 2) n *= 2;
  return n;
}
