// The order a transaction's events are queued to LMDB in: near their events key's order (U T I),
// not Kafka's.
//
// Why: events of random users land on random leaves of three B-trees. Queued in Kafka order,
// every put descends from the root to a leaf far from the previous one (cache misses on every
// level), and the LMDB write thread, which runs the puts one after another, is what a large
// build waits for. Queued in key order, consecutive puts share their branch pages and often their
// leaf (a user's events, and its by_type / by_event entries, sit together). Measured with the view's
// write pattern at 3 M events (three puts per event, 10k per transaction, 150 k users): the
// write thread's CPU per event fell by ~40 %; a 4 M-event build took 174-181 s instead of 352 s
// (docs/architecture/view.md, "Large builds").
//
// The order only needs to be close to the key order, and exact for equal keys: each entry is
// ordered by the first 12 bytes of its key (two 48-bit numbers), then by when it was added, so
// two puts of one key keep their Kafka order (the later one wins, as before). Hot path (every
// event of a build): numbers in typed arrays, one sort of an index per transaction, no per-entry
// objects.
export class PutOrder {
  private hi = new Float64Array(16_384);
  private lo = new Float64Array(16_384);
  /** Which part (slice) of the transaction, and which record of it, each entry is. */
  private part = new Uint16Array(16_384);
  private record = new Uint32Array(16_384);
  private n = 0;
  private order: number[] = [];

  get size(): number {
    return this.n;
  }

  /** Forgets every entry (a new transaction). */
  reset(): void {
    this.n = 0;
  }

  /** Adds record `record` of part `part`, whose events key is key[start, end). */
  add(part: number, record: number, key: Uint8Array, start: number, end: number): void {
    const i = this.n++;
    if (i === this.hi.length) this.grow();
    this.hi[i] = prefix48(key, start, end);
    this.lo[i] = prefix48(key, start + 6, end);
    this.part[i] = part;
    this.record[i] = record;
  }

  /**
   * Calls `fn(part, record)` for every entry, in key order (ties in the order added). With `tie`,
   * the order is exact, for a bulk build's runs (./bulk.ts): it compares two entries whose first
   * 12 bytes are equal by their whole keys (0: equal keys, kept in the order added).
   */
  forEach(fn: (part: number, record: number) => void, tie?: (partA: number, recordA: number, partB: number, recordB: number) => number): void {
    const n = this.n;
    const order = this.order;
    order.length = n;
    for (let i = 0; i < n; i++) order[i] = i;
    const { hi, lo, part, record } = this;
    order.sort(
      tie === undefined
        ? (a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b
        : (a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || tie(part[a]!, record[a]!, part[b]!, record[b]!) || a - b,
    );
    for (let i = 0; i < n; i++) {
      const e = order[i]!;
      fn(part[e]!, record[e]!);
    }
  }

  private grow(): void {
    this.hi = doubled(this.hi, Float64Array);
    this.lo = doubled(this.lo, Float64Array);
    this.part = doubled(this.part, Uint16Array);
    this.record = doubled(this.record, Uint32Array);
  }
}

/** A copy of `a` in an array of twice its length. */
function doubled<T extends Float64Array | Uint16Array | Uint32Array>(a: T, Make: new (length: number) => T): T {
  const b = new Make(a.length * 2);
  b.set(a);
  return b;
}

/** Bytes [at, at + 6) of key[..end) as a big-endian number (missing bytes as 0): exact in a double, and ordered as the bytes are. */
export function prefix48(key: Uint8Array, at: number, end: number): number {
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + (at + i < end ? key[at + i]! : 0);
  return v;
}
