// Events the view has applied but not committed yet, readable at once: the view's memtable.
//
// Why: a caught-up view used to commit each fetch (~100 records at 10k events/s) and an event was
// readable only once its commit had landed. Each event is three puts at random places of three
// B-trees, so a small transaction copies about three 4-KiB pages per event and writes them with
// pwrite(): measured at 40 us of LMDB's write thread per event at 100 per transaction against
// 17 us at 5,000 (docs/architecture/view.md), the largest item of the all-in-one's CPU at a steady
// load, and the largest stage of a slow event's freshness. Now the builder commits at most every
// QUERY_VIEW_COMMIT_MS (or QUERY_VIEW_COMMIT_RECORDS), and sends each fetch's applied events to
// the query thread as soon as it has decided on them (./builder.ts onPending); the reader merges
// them into the pages it reads from LMDB (./viewstore.ts ViewReader). Once their transaction has
// committed, the builder says so (onCommitted) and they are dropped here: LMDB serves them.
//
// Nothing here is durable, and nothing needs to be: the offsets in LMDB are those of the last
// commit, so after a crash the builder reads these records from Kafka again (Kafka is the log).
//
// Builder thread: packPending() copies a part's applied events into one transferable batch.
// Query thread: PendingRows keeps them per user, in events key order (U T I: newest last).
import type { DecodedRecords } from './decode.js';

/** Events of one decoded part, applied in transaction `seq`, as the query thread keeps them. */
export interface PendingBatch {
  seq: number;
  /**
   * Per event i: its events key (U T I), its by_event key (U E T I; empty without an event
   * name) and its stored row (./render.ts: header, then reply JSON), back to back:
   * bytes[ends[3i - 1] .. ends[3i]) key, .. ends[3i + 1]) by_event key, .. ends[3i + 2]) row.
   */
  bytes: Uint8Array;
  ends: Uint32Array;
  /** Length of U at the start of event i's key. */
  userBytes: Uint16Array;
  ts: Float64Array;
  typeCode: Uint8Array;
  /** Users (U) to take as having events older than the horizon: marks[markEnds[j - 1] .. markEnds[j]). */
  marks: Uint8Array;
  markEnds: Uint32Array;
}

/**
 * Records `rows` (indexes into part `d`, whose slabs are `keys` and `json`) and the users of
 * records `marks`, copied into one batch for transaction `seq` (its buffers can be moved).
 */
export function packPending(seq: number, d: DecodedRecords, keys: Uint8Array, json: Uint8Array, rows: readonly number[], marks: readonly number[]): PendingBatch {
  const e = d.keyEnds;
  const n = rows.length;
  let size = 0;
  for (const k of rows) size += e[3 * k + 3]! - e[3 * k]! + (d.jsonEnds[k]! - (k === 0 ? 0 : d.jsonEnds[k - 1]!));
  let markSize = 0;
  for (const k of marks) markSize += d.userBytes[k]!;
  const bytes = new Uint8Array(size);
  const ends = new Uint32Array(3 * n);
  const userBytes = new Uint16Array(n);
  const ts = new Float64Array(n);
  const typeCode = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const k = rows[i]!;
    // The events key, then (skipping by_type's) the by_event key.
    bytes.set(keys.subarray(e[3 * k]!, e[3 * k + 1]!), at);
    at += e[3 * k + 1]! - e[3 * k]!;
    ends[3 * i] = at;
    bytes.set(keys.subarray(e[3 * k + 2]!, e[3 * k + 3]!), at);
    at += e[3 * k + 3]! - e[3 * k + 2]!;
    ends[3 * i + 1] = at;
    const from = k === 0 ? 0 : d.jsonEnds[k - 1]!;
    bytes.set(json.subarray(from, d.jsonEnds[k]!), at);
    at += d.jsonEnds[k]! - from;
    ends[3 * i + 2] = at;
    userBytes[i] = d.userBytes[k]!;
    ts[i] = d.ts[k]!;
    typeCode[i] = d.typeCode[k]!;
  }
  const markBytes = new Uint8Array(markSize);
  const markEnds = new Uint32Array(marks.length);
  let m = 0;
  for (let j = 0; j < marks.length; j++) {
    const k = marks[j]!;
    markBytes.set(keys.subarray(e[3 * k]!, e[3 * k]! + d.userBytes[k]!), m);
    m += d.userBytes[k]!;
    markEnds[j] = m;
  }
  return { seq, bytes, ends, userBytes, ts, typeCode, marks: markBytes, markEnds };
}

/** The buffers of a batch, to move it to another thread instead of copying it. */
export function pendingTransfer(b: PendingBatch): ArrayBuffer[] {
  return [b.bytes.buffer, b.ends.buffer, b.userBytes.buffer, b.ts.buffer, b.typeCode.buffer, b.marks.buffer, b.markEnds.buffer] as ArrayBuffer[];
}

/** One pending event: event `i` of batch `b` (its bytes as a Buffer: `buf`). */
export interface PendingRow {
  readonly b: PendingBatch;
  readonly buf: Buffer;
  readonly i: number;
}

/** Where event i's events key starts in its batch's bytes. */
export function keyStart(b: PendingBatch, i: number): number {
  return i === 0 ? 0 : b.ends[3 * i - 1]!;
}

/** Events applied but not committed, per user in events key order; see the top of this file. */
export class PendingRows {
  /** By user (U as latin1): rows in ascending events key order. */
  private readonly users = new Map<string, PendingRow[]>();
  /** Users taken as having older events, with the transaction that marks them in LMDB. */
  private readonly older = new Map<string, number>();
  private readonly batches: { b: PendingBatch; users: Set<string> }[] = [];
  private count = 0;

  /** Events held. */
  get size(): number {
    return this.count;
  }

  add(b: PendingBatch): void {
    const buf = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    const users = new Set<string>();
    const n = b.ts.length;
    for (let i = 0; i < n; i++) {
      const start = keyStart(b, i);
      const user = buf.toString('latin1', start, start + b.userBytes[i]!);
      users.add(user);
      const row: PendingRow = { b, buf, i };
      let list = this.users.get(user);
      if (list === undefined) {
        this.users.set(user, [row]);
        this.count++;
        continue;
      }
      // Usually the newest: found from the end.
      let j = list.length;
      let c = 1;
      while (j > 0 && (c = compareKeys(list[j - 1]!, row)) > 0) j--;
      if (j > 0 && c === 0) {
        // The same key again (an id reused after the resend window): the later one, as LMDB keeps it.
        list[j - 1] = row;
        continue;
      }
      if (j === list.length) list.push(row);
      else list.splice(j, 0, row);
      this.count++;
    }
    if (b.markEnds.length > 0) {
      const marks = Buffer.from(b.marks.buffer, b.marks.byteOffset, b.marks.byteLength);
      for (let j = 0; j < b.markEnds.length; j++) this.older.set(marks.toString('latin1', j === 0 ? 0 : b.markEnds[j - 1]!, b.markEnds[j]!), b.seq);
    }
    this.batches.push({ b, users });
  }

  /** Transaction `seq` and those before it have committed: their events are LMDB's to serve now. */
  committed(seq: number): void {
    let drop = 0;
    while (drop < this.batches.length && this.batches[drop]!.b.seq <= seq) drop++;
    if (drop === 0) return;
    const users = new Set<string>();
    for (let j = 0; j < drop; j++) for (const u of this.batches[j]!.users) users.add(u);
    this.batches.splice(0, drop);
    for (const u of users) {
      const list = this.users.get(u);
      if (list === undefined) continue;
      const kept = list.filter((r) => r.b.seq > seq);
      this.count -= list.length - kept.length;
      if (kept.length === 0) this.users.delete(u);
      else this.users.set(u, kept);
    }
    for (const [u, s] of this.older) if (s <= seq) this.older.delete(u);
  }

  /** Forgets everything (the builder thread stopped: its successor reads these records again). */
  clear(): void {
    this.users.clear();
    this.older.clear();
    this.batches.length = 0;
    this.count = 0;
  }

  /** A user's pending events (U as latin1), in ascending key order; undefined: none. */
  rowsOf(user: string): readonly PendingRow[] | undefined {
    return this.users.get(user);
  }

  /** Whether a pending transaction marks the user as having events older than the horizon. */
  marked(user: string): boolean {
    return this.older.has(user);
  }
}

/** Orders two pending events by their events keys' bytes. */
function compareKeys(a: PendingRow, b: PendingRow): number {
  const as = keyStart(a.b, a.i);
  const bs = keyStart(b.b, b.i);
  return a.buf.compare(b.buf, bs, b.b.ends[3 * b.i]!, as, a.b.ends[3 * a.i]!);
}
