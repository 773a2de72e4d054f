// A bulk build: an empty view in front of a large backlog is filled by sorting, not by inserting.
//
// Why: inserted, a build's events land on random leaves of three B-trees that outgrow the page
// cache; every transaction copies (copy-on-write) a good part of their leaves, the file ends up
// with pages ~65 % full, and from ~3 M events on the build waits for the disk (10 M events took
// 226-247 s here on 2026-12-06, the kernel writing ~36 GB for an 18.7 GB file:
// docs/architecture/view.md, "The 10 M runs"). Sorted first, every page is written once, full,
// at the right edge of its tree (LMDB's MDB_APPEND).
//
// How: the builder takes records as usual (the sink's decisions, in partition order), but each
// transaction it gathers becomes a run: its events in exact key order, written to a file in
// LZ4-compressed blocks (see Runs). Once the view has read what the topic held at start, the runs
// are merged (a k-way merge) and appended to `events`, and each user's `by_type` / `by_event`
// entries, in key order per user (Entries), to their trees (a user's keys in all three start with
// U, so users come in the same order in each). The data goes in several transactions; the
// partitions' offsets and resend windows go in the last one. Until then the state carries the
// `bulk` mark. After the first run, then every QUERY_VIEW_BULK_CHECKPOINT_MS, at a stop and before
// the merge, a checkpoint commits, once the runs it names are in their files: the partitions'
// offsets, resend windows and day stats as of the end of the last run, and the size of every run
// so far in the mark. A later start (after a stop, or a kill -9 at any moment) keeps those runs,
// drops any written after them, empties what a merge had begun, and reads on from those offsets
// (src/view/view.ts, builderthread.ts). A mark without a checkpoint, with runs missing or of
// another size, with users erased since, or with bulk builds turned off is wiped at open and
// built again (interruptedBulk); a builder thread that died in a bulk build clears it
// (clearUnfinishedBulk).
//
// The result is the state the inserting build would leave, key for key and byte for byte
// (src/view/bulk.test.ts): a key put twice keeps its last value in Kafka order, as LMDB's
// overwrite does.
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import path from 'node:path';
import { compress, uncompressSync } from 'lz4-napi';
import type { Logger } from '../common/log.js';
import type { Bytes, StateStore } from '../state/statestore.js';
import type { DecodedRecords } from './decode.js';
import { nameLength } from './keys.js';
import { prefix48 } from './putorder.js';

/** The meta key a state carries while a bulk build has not committed its offsets. */
export const BULK_META = 'bulk';

/** The databases a bulk build's merge fills (and a resumed one empties first). */
export const BULK_TREES = ['events', 'by_type', 'by_event'] as const;

/** The mark a state carries during a bulk build. */
export interface BulkMark {
  startedAt: string;
  /** 1 for a process's first bulk build; 2 for the one after a builder thread died in it (no third: it inserts then). */
  attempt: number;
  /** The last checkpoint: the byte size of each run it covers, in order (absent: none yet). */
  runs?: number[];
  /** Events and bytes (before compression) in those runs. */
  events?: number;
  bytes?: number;
}

/** What decides whether a paused bulk build may resume, besides its mark and runs. */
export interface ResumeChecks {
  /** Users were erased while it was stopped (their events may sit in the runs, which a deletion from LMDB does not reach). */
  erasedSince: boolean;
  /** Bulk builds are on (QUERY_VIEW_BULK_RECORDS > 0). */
  bulkOn: boolean;
}

/**
 * Why a state carrying a bulk build's mark cannot resume it and must be wiped (null: no mark, or
 * it can resume). `dir`: the runs' directory.
 */
export function interruptedBulk(state: Pick<StateStore, 'getMeta'>, dir: string, checks: ResumeChecks): string | null {
  const mark = state.getMeta<Partial<BulkMark>>(BULK_META);
  if (mark === undefined) return null;
  const build = `its bulk build (started ${mark.startedAt ?? 'at an unknown time'})`;
  if (!Array.isArray(mark.runs)) return `${build} stopped before its first checkpoint`;
  const missing = mark.runs.findIndex((size, i) => fileSize(runFile(dir, i)) !== size);
  if (missing >= 0) return `${build} lost run ${missing} of its checkpoint (missing, or not of the size recorded)`;
  if (checks.erasedSince) return `${build} holds runs that may hold events of users erased since it stopped`;
  if (!checks.bulkOn) return `${build} did not finish, and bulk builds are now off (QUERY_VIEW_BULK_RECORDS=0)`;
  return null;
}

/**
 * A bulk build this process started and did not finish (its builder thread died: the state is
 * the process's, so it cannot be wiped as at open): empties the events, their indexes, the day
 * stats, resend windows and offsets of `topic` its checkpoints wrote, removes the mark and the
 * runs under `dir` (the next build may insert instead, and would leave them on disk). Call
 * before a builder is made on the state. Returns the mark (its attempt number), or undefined.
 */
export async function clearUnfinishedBulk(state: StateStore, topic: string, dir: string): Promise<BulkMark | undefined> {
  const mark = state.getMeta<BulkMark>(BULK_META);
  if (mark === undefined) return undefined;
  rmSync(dir, { recursive: true, force: true });
  await Promise.all([...BULK_TREES, 'days', 'windows'].map((name) => state.db(name).clearAsync()));
  await state.write(() => {
    state.removeOffsets(topic);
    state.removeMeta(BULK_META);
  });
  return mark;
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

function runFile(dir: string, i: number): string {
  return path.join(dir, `run-${String(i).padStart(6, '0')}`);
}

/**
 * Bytes of free disk a bulk build asks for per record: its runs (~0.8 KB per bench event) and the
 * view beside them (~1.1 KB) until the merge ends, with room to spare.
 */
export const BULK_DISK_PER_RECORD = 2_500;

/** A run record: u16 events key length, u16 by_type key length, u16 by_event key length, u8 type code, u8 0, u32 value length; then the keys and the value. */
const HEADER = 12;

/** Writes a run record's header at `at` (lengths in bytes); its keys go at the offset returned, its value after them. */
export function putRunHeader(buf: Buffer, at: number, eventsKey: number, typeKey: number, eventKey: number, typeCode: number, value: number): number {
  buf.writeUInt16LE(eventsKey, at);
  buf.writeUInt16LE(typeKey, at + 2);
  buf.writeUInt16LE(eventKey, at + 4);
  buf[at + 6] = typeCode;
  buf[at + 7] = 0;
  buf.writeUInt32LE(value, at + 8);
  return at + HEADER;
}
/** Bytes of records per block of a run (compressed, written and read back as one). */
const CHUNK = 8 << 20;
/** Written blocks kept for the next runs at most (a run holds at most QUERY_VIEW_CATCHUP_BYTES of records). */
const MAX_FREE_BLOCKS = 64;
/** Events per LMDB transaction of the merge. */
export const MERGE_EVENTS = 50_000;
/**
 * A user's index entries held for sorting at most; a user with more has them put without
 * MDB_APPEND, in sorted batches (the next user's keys are above all of them, so appending goes on).
 */
export const USER_ENTRIES = 262_144;

const APPEND = { append: true } as const;
const EMPTY = Buffer.alloc(0);
const TYPE_VALUES = Array.from({ length: 256 }, (_, c) => Buffer.from([c]));

/** The entries of one gathered transaction, in exact key order: entry i is record[i] of part[i]. */
export interface RunEntries {
  n: number;
  part: Uint16Array;
  record: Uint32Array;
}

/**
 * Serializes a transaction's events (in `order`) as one run, in chunks of whole records of about
 * `chunkBytes` (a record larger has one of its own). Each record's three keys are contiguous in
 * its part's key slab, so one copy takes them all.
 */
export function serializeRun(
  parts: readonly DecodedRecords[],
  keys: readonly Buffer[],
  json: readonly Buffer[],
  order: RunEntries,
  chunkBytes = CHUNK,
  alloc: (size: number) => Buffer = Buffer.allocUnsafeSlow,
): Buffer[] {
  const chunks: Buffer[] = [];
  let buf = alloc(chunkBytes);
  let at = 0;
  for (let i = 0; i < order.n; i++) {
    const p = order.part[i]!;
    const k = order.record[i]!;
    const d = parts[p]!;
    const e = d.keyEnds;
    const k0 = e[3 * k]!;
    const k1 = e[3 * k + 1]!;
    const k2 = e[3 * k + 2]!;
    const k3 = e[3 * k + 3]!;
    const v0 = k === 0 ? 0 : d.jsonEnds[k - 1]!;
    const v1 = d.jsonEnds[k]!;
    const len = HEADER + (k3 - k0) + (v1 - v0);
    if (buf.length - at < len) {
      chunks.push(buf.subarray(0, at));
      buf = alloc(Math.max(chunkBytes, len));
      at = 0;
    }
    const ks = putRunHeader(buf, at, k1 - k0, k2 - k1, k3 - k2, d.typeCode[k]!, v1 - v0);
    keys[p]!.copy(buf, ks, k0, k3);
    json[p]!.copy(buf, ks + (k3 - k0), v0, v1);
    at += len;
  }
  if (at > 0) chunks.push(buf.subarray(0, at));
  return chunks;
}

/**
 * The runs of one bulk build, in a directory of their own. Each run is a sequence of blocks, each
 * block whole records compressed with LZ4 (lz4-napi's size-prepended block, after a u32 of its
 * length). Why compressed: the runs, the view and Kafka's log share the page cache, and on a
 * machine whose memory they outgrow every page costs a reclaim (10 M events: 10 GB of runs beside
 * an 11 GB view merged at ~40 k events/s once memory was full, against ~170 k/s at 1 M); LZ4 takes
 * a bench run to about a third, off the builder's thread (the compression runs on libuv's pool).
 */
export class Runs {
  private readonly files: string[] = [];
  /**
   * Blocks written, for the next runs' records. Why: each new ArrayBuffer counts as external memory
   * in V8, and every ~64 MB of it starts a full mark of the builder's heap; runs are ~1 KB per
   * event, one of the largest streams of new buffers in a build (docs/architecture/view.md).
   */
  private readonly free: ArrayBuffer[] = [];
  /** The blocks alloc() made: only those come back to `free` (a chunk from elsewhere may share its memory). */
  private readonly made = new WeakSet<ArrayBuffer>();
  /** Each run's size in its file, once written. */
  readonly sizes: number[] = [];
  /** Events written to runs. */
  events = 0;
  /** Bytes of the records (before compression). */
  bytes = 0;

  /** A new, empty set of runs; or, with `kept` (a checkpoint's), those runs and no others. */
  constructor(
    readonly dir: string,
    kept?: Required<Pick<BulkMark, 'runs' | 'events' | 'bytes'>>,
  ) {
    if (kept === undefined) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (kept === undefined) return;
    for (let i = 0; i < kept.runs.length; i++) {
      this.files.push(runFile(dir, i));
      this.sizes.push(kept.runs[i]!);
    }
    // Runs written after the checkpoint: their records are read from Kafka again.
    const keep = new Set(this.files.map((f) => path.basename(f)));
    for (const name of readdirSync(dir)) if (!keep.has(name)) rmSync(path.join(dir, name), { force: true });
    this.events = kept.events;
    this.bytes = kept.bytes;
  }

  get count(): number {
    return this.files.length;
  }

  /** A buffer of `size` bytes for a run's records: a block written before, or a new one. */
  readonly alloc = (size: number): Buffer => {
    const free = this.free;
    // A block of that size, wherever it is (one for a record larger than a block is kept too).
    const i = free.findLastIndex((b) => b.byteLength === size);
    if (i >= 0) {
      const block = free[i]!;
      free[i] = free[free.length - 1]!;
      free.pop();
      return Buffer.from(block, 0, size);
    }
    const buf = Buffer.allocUnsafeSlow(size);
    this.made.add(buf.buffer as ArrayBuffer);
    return buf;
  };

  /** Writes the next run (chunks of whole records); resolves once it is in the file. */
  async write(chunks: readonly Buffer[], events: number): Promise<void> {
    if (events === 0) return;
    const run = this.files.length;
    const file = runFile(this.dir, run);
    this.files.push(file);
    this.events += events;
    for (const c of chunks) this.bytes += c.length;
    const blocks = await Promise.all(chunks.map((c) => compress(c)));
    // Compressed: the records' buffers are free for the next run (at most a run's worth kept).
    for (const c of chunks) if (this.made.has(c.buffer as ArrayBuffer) && this.free.length < MAX_FREE_BLOCKS) this.free.push(c.buffer as ArrayBuffer);
    const parts: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < blocks.length; i++) {
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32LE(blocks[i]!.length, 0);
      parts.push(len, blocks[i]!);
      size += 4 + blocks[i]!.length;
    }
    await writeFile(file, parts, { mode: 0o600 });
    this.sizes[run] = size;
  }

  /** Deletes the runs (merged, or abandoned). */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Cursors over every run, in the order written (no run is written after this). */
  open(): RunCursor[] {
    this.free.length = 0;
    return this.files.map((f, i) => new RunCursor(f, i));
  }
}

/**
 * Reads a run record by record, a block at a time. Each block is a new buffer: the values handed
 * to lmdb-js point into it until their transaction commits.
 */
export class RunCursor {
  private readonly fd: number;
  /** The compressed block read last (reused: it is only read while decompressing). */
  private input: Buffer = Buffer.allocUnsafeSlow(1 << 20);
  private readonly lenBuf = Buffer.allocUnsafe(4);
  /** File offset of the next block. */
  private fileAt = 0;
  private buf: Buffer = EMPTY;
  /** Where the next record starts in buf. */
  private pos = 0;
  /** The current record's parts in `chunk`: events key [pk0, pk1), by_type key [pk1, tk1), by_event key [tk1, ek1), value [ek1, v1). */
  pk0 = 0;
  pk1 = 0;
  tk1 = 0;
  ek1 = 0;
  v1 = 0;
  code = 0;
  /** The events key's bytes [0, 6), [6, 12), [12, 18) as numbers (missing bytes as 0): most comparisons end on them. */
  p0 = 0;
  p1 = 0;
  p2 = 0;
  private done = false;

  constructor(
    readonly file: string,
    readonly run: number,
  ) {
    this.fd = openSync(file, 'r');
  }

  /** The buffer the current record lies in. */
  get chunk(): Buffer {
    return this.buf;
  }

  /** Moves to the next record (the first, on the first call); false at the end of the run. */
  next(): boolean {
    if (this.pos >= this.buf.length && !this.block()) {
      this.close();
      return false;
    }
    const b = this.buf;
    const a = this.pos;
    this.code = b[a + 6]!;
    this.pk0 = a + HEADER;
    this.pk1 = this.pk0 + b.readUInt16LE(a);
    this.tk1 = this.pk1 + b.readUInt16LE(a + 2);
    this.ek1 = this.tk1 + b.readUInt16LE(a + 4);
    this.v1 = this.ek1 + b.readUInt32LE(a + 8);
    if (this.v1 > b.length) throw new Error(`bulk-build run ${this.file} has a record beyond its block: the file is damaged`);
    this.pos = this.v1;
    this.p0 = prefix48(b, this.pk0, this.pk1);
    this.p1 = prefix48(b, this.pk0 + 6, this.pk1);
    this.p2 = prefix48(b, this.pk0 + 12, this.pk1);
    return true;
  }

  /** Reads and decompresses the next block; false at the end of the file. */
  private block(): boolean {
    const header = this.read(this.lenBuf, 4);
    if (header === 0) return false;
    if (header < 4) throw new Error(`bulk-build run ${this.file} ends inside a block header: the file is truncated`);
    const len = this.lenBuf.readUInt32LE(0);
    if (this.input.length < len) this.input = Buffer.allocUnsafeSlow(len);
    if (this.read(this.input, len) < len) throw new Error(`bulk-build run ${this.file} ends inside a block: the file is truncated`);
    this.buf = uncompressSync(this.input.subarray(0, len));
    this.pos = 0;
    return this.buf.length > 0 || this.block();
  }

  /** Reads n bytes at the file position into buf; returns the bytes read (fewer only at the end). */
  private read(buf: Buffer, n: number): number {
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, buf, got, n - got, this.fileAt + got);
      if (r === 0) break;
      got += r;
    }
    this.fileAt += got;
    return got;
  }

  close(): void {
    if (!this.done) {
      this.done = true;
      closeSync(this.fd);
    }
  }
}

/** What the merge wrote. */
export interface MergeCounts {
  events: number;
  byType: number;
  byEvent: number;
  /** Users whose index entries outnumbered USER_ENTRIES (put without MDB_APPEND). */
  largeUsers: number;
}

export interface MergeOptions {
  /** Events per transaction (MERGE_EVENTS). */
  perTransaction?: number;
  /** A user's index entries held for sorting at most (USER_ENTRIES). */
  userEntries?: number;
  log: Logger;
  /** Called after each transaction of the merge has committed (a test hook kills the process there). */
  afterCommit?: () => void;
  /** Whether to give the merge up (a stop): it then rejects with MergeStopped between two transactions. */
  stopped?: () => boolean;
}

/** The merge was given up (a stop); the state keeps its bulk mark. */
export class MergeStopped extends Error {
  constructor() {
    super('the bulk build was stopped during its merge; the view is built again at the next start');
  }
}

/**
 * Merges the runs into the (empty) `events`, `by_type` and `by_event` databases, in transactions
 * of `perTransaction` events, each applied and committed on this thread (StateStore.writeSync),
 * yielding to the event loop between two. Resolves once the last has committed; the caller then
 * commits the offsets.
 *
 * Why not lmdb-js's queued writes: each queued put keeps a resolution object and its value's
 * Buffer alive until the commit, three puts per event and two transactions in flight, so ~100 k
 * events' worth of small objects survived every scavenge into the old generation, and the merge
 * ran at half the speed (2 M bench events: 21-27 s against 11-16 s, docs/architecture/view.md).
 * Nothing else runs on this thread during the merge, so applying the puts here costs no overlap.
 */
export async function mergeRuns(state: StateStore, runs: Runs, opts: MergeOptions): Promise<MergeCounts> {
  const m = new Merger(state, runs.open(), opts.userEntries ?? USER_ENTRIES);
  const per = opts.perTransaction ?? MERGE_EVENTS;
  const started = performance.now();
  let logged = started;
  try {
    while (!m.done) {
      if (opts.stopped?.() === true) throw new MergeStopped();
      state.writeSync(() => m.steps(per));
      opts.afterCommit?.();
      await yieldTurn();
      const now = performance.now();
      if (now - logged >= 5_000) {
        logged = now;
        opts.log.info({ merged: m.read, events: runs.events, eventsPerSecond: Math.round(m.read / ((now - started) / 1000)) }, 'view bulk build merging its runs');
      }
    }
  } finally {
    m.close();
  }
  const counts = m.counts;
  const entries = (db: Bytes) => (db.getStats() as { entryCount: number }).entryCount;
  const got = { events: entries(state.db('events')), byType: entries(state.db('by_type')), byEvent: entries(state.db('by_event')) };
  // MDB_APPEND refuses a key not above the last one, and lmdb-js reports that as a put not done,
  // not as an error: a count short here would be events lost, so the build stops instead.
  if (got.events !== counts.events || (counts.largeUsers === 0 && (got.byType !== counts.byType || got.byEvent !== counts.byEvent))) {
    throw new Error(`the view's bulk build wrote ${JSON.stringify(got)} entries where it put ${JSON.stringify(counts)}: keys out of order; the view is built again`);
  }
  return counts;
}

/** The k-way merge of the runs; `steps()` runs inside a write transaction. */
class Merger {
  private readonly events: Bytes;
  private readonly byType: Bytes;
  private readonly byEvent: Bytes;
  /** Cursor indexes, a binary heap by (events key, run). */
  private readonly heap: number[] = [];
  /** The last record taken, not put yet: a later record with the same events key replaces it. */
  private held: Buffer | null = null;
  private heldPk0 = 0;
  private heldPk1 = 0;
  private heldV0 = 0;
  private heldV1 = 0;
  private heldP0 = 0;
  private heldP1 = 0;
  private heldP2 = 0;
  /** The user whose index entries are being gathered: U in userBuf[userAt, userAt + userLen). */
  private userBuf: Buffer = EMPTY;
  private userAt = 0;
  private userLen = 0;
  /** That user's by_type and by_event entries (buffer, start, end; type code), in the order taken. */
  private readonly types = new Entries();
  private readonly names = new Entries();
  /** Distinct events keys taken so far: numbers the records' keys, for Entries. */
  private key = 0;
  /** The user has had entries put without MDB_APPEND (more than userEntries of them). */
  private large = false;
  readonly counts: MergeCounts = { events: 0, byType: 0, byEvent: 0, largeUsers: 0 };
  /** Records read from the runs. */
  read = 0;
  done = false;

  constructor(
    state: StateStore,
    private readonly cursors: RunCursor[],
    private readonly userEntries: number,
  ) {
    this.events = state.db('events');
    this.byType = state.db('by_type');
    this.byEvent = state.db('by_event');
    for (let i = 0; i < cursors.length; i++) if (cursors[i]!.next()) this.push(i);
    if (this.heap.length === 0) this.done = true;
  }

  /** Takes up to `n` records in key order and queues their puts (inside a write transaction). */
  steps(n: number): void {
    const heap = this.heap;
    for (let i = 0; i < n && heap.length > 0; i++) {
      const c = this.cursors[heap[0]!]!;
      this.take(c);
      if (c.next()) this.siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          this.siftDown(0);
        }
      }
    }
    if (heap.length === 0) {
      this.putHeld();
      this.flushUser(true);
      this.done = true;
    }
  }

  private take(c: RunCursor): void {
    this.read++;
    const b = c.chunk;
    // A key put twice: the later one (in Kafka order: runs are written in that order, and a run
    // keeps it for equal keys) replaces the earlier, as the inserting build's overwrite does.
    const dup = this.held !== null && c.p0 === this.heldP0 && c.p1 === this.heldP1 && c.p2 === this.heldP2 && this.held.compare(b, c.pk0, c.pk1, this.heldPk0, this.heldPk1) === 0;
    if (!dup) {
      this.putHeld();
      this.key++;
    }
    this.held = b;
    this.heldP0 = c.p0;
    this.heldP1 = c.p1;
    this.heldP2 = c.p2;
    this.heldPk0 = c.pk0;
    this.heldPk1 = c.pk1;
    this.heldV0 = c.ek1;
    this.heldV1 = c.v1;
    const u = nameLength(b, c.pk0);
    if (u !== this.userLen || this.userBuf.compare(b, c.pk0, c.pk0 + u, this.userAt, this.userAt + this.userLen) !== 0) {
      this.flushUser(true);
      this.userBuf = b;
      this.userAt = c.pk0;
      this.userLen = u;
      this.large = false;
    }
    this.types.add(b, c.pk1, c.tk1, 0, this.key);
    if (c.ek1 > c.tk1) this.names.add(b, c.tk1, c.ek1, c.code, this.key);
    if (this.types.n + this.names.n >= this.userEntries) this.flushUser(false);
  }

  private putHeld(): void {
    const h = this.held;
    if (h === null) return;
    void this.events.put(h.subarray(this.heldPk0, this.heldPk1), h.subarray(this.heldV0, this.heldV1), APPEND);
    this.counts.events++;
    this.held = null;
  }

  /**
   * Puts the user's gathered index entries, each tree's in key order (equal keys: the last taken).
   * `userDone` false: the user has more to come, so these go without MDB_APPEND (later ones may sort
   * below them), and so does the rest of this user's.
   */
  private flushUser(userDone: boolean): void {
    if (!userDone && !this.large) {
      this.large = true;
      this.counts.largeUsers++;
    }
    const append = !this.large;
    this.counts.byType += this.types.putInOrder(this.byType, append, null, this.userLen, false);
    this.counts.byEvent += this.names.putInOrder(this.byEvent, append, TYPE_VALUES, this.userLen, true);
  }

  /**
   * Whether cursor a's record goes before b's: by events key, then run. Hot (a few calls per event):
   * the keys' first 18 bytes as numbers decide most pairs without a call into Buffer.compare.
   */
  private less(a: number, b: number): boolean {
    const x = this.cursors[a]!;
    const y = this.cursors[b]!;
    const d = x.p0 - y.p0 || x.p1 - y.p1 || x.p2 - y.p2 || x.chunk.compare(y.chunk, y.pk0, y.pk1, x.pk0, x.pk1);
    return d < 0 || (d === 0 && x.run < y.run);
  }

  private push(i: number): void {
    const heap = this.heap;
    heap.push(i);
    let k = heap.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.less(heap[k]!, heap[parent]!)) break;
      [heap[k], heap[parent]] = [heap[parent]!, heap[k]!];
      k = parent;
    }
  }

  private siftDown(k: number): void {
    const heap = this.heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(heap[r]!, heap[l]!) ? r : l;
      if (!this.less(heap[m]!, heap[k]!)) return;
      [heap[k], heap[m]] = [heap[m]!, heap[k]!];
      k = m;
    }
  }

  close(): void {
    for (const c of this.cursors) c.close();
  }
}

/**
 * A user's entries of one index, in the order taken: key = buf[start, end), with a type code. The
 * merge takes a user's records in events-key order, U T I, and an index key is U, a segment (the
 * type code in `by_type`, the event name E in `by_event`), then the same T I: so the entries
 * grouped by segment, the groups in the segments' byte order and each group in the order taken,
 * are in key order, with no key compared to another (sorting them by whole keys took ~11 s of a
 * 10 M build's merge in Buffer.compare).
 */
class Entries {
  n = 0;
  private bufs: Buffer[] = [];
  private starts: number[] = [];
  private ends: number[] = [];
  private codes: number[] = [];
  /** The number of the events key of the record each entry came from. */
  private pks: number[] = [];

  add(buf: Buffer, start: number, end: number, code: number, pk: number): void {
    const i = this.n++;
    this.bufs[i] = buf;
    this.starts[i] = start;
    this.ends[i] = end;
    this.codes[i] = code;
    this.pks[i] = pk;
  }

  /**
   * Puts the entries in key order and forgets them; `values` null: empty values, else
   * values[code]. `u`: the length of U; `named`: the segment is a name (E), else one byte. Two
   * entries of records with one events key (taken one after another) have one key when their
   * segments match: the later replaces the earlier (the last taken wins, as an overwrite does).
   * Returns the puts made.
   */
  putInOrder(db: Bytes, append: boolean, values: readonly Buffer[] | null, u: number, named: boolean): number {
    const n = this.n;
    if (n === 0) return 0;
    const { bufs, starts, ends, codes, pks } = this;
    // A name as a latin1 string (one code unit per byte, so JS's string order is its byte order);
    // a type code as its number, without a string per entry.
    const groups = new Map<string | number, number[]>();
    for (let i = 0; i < n; i++) {
      const s = starts[i]! + u;
      const segment = named ? bufs[i]!.toString('latin1', s, s + nameLength(bufs[i]!, s)) : bufs[i]![s]!;
      let g = groups.get(segment);
      if (g === undefined) groups.set(segment, (g = []));
      const last = g.length - 1;
      if (last >= 0 && pks[g[last]!] === pks[i]) g[last] = i;
      else g.push(i);
    }
    let puts = 0;
    for (const segment of [...groups.keys()].sort(named ? undefined : (a, b) => (a as number) - (b as number))) {
      for (const i of groups.get(segment)!) {
        const key = bufs[i]!.subarray(starts[i]!, ends[i]!);
        const value = values === null ? EMPTY : values[codes[i]!]!;
        void (append ? db.put(key, value, APPEND) : db.put(key, value));
        puts++;
      }
    }
    // Drop the references: the chunks they point into can go once their puts commit.
    for (let i = 0; i < n; i++) this.bufs[i] = EMPTY;
    this.n = 0;
    return puts;
  }
}
