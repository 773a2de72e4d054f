// Applying Kafka records to the view, effectively once: the heart of the builder thread.
//
// Per record, in partition order, the same decisions the sink makes for ClickHouse, so the view
// holds exactly the events ClickHouse holds:
// - below the partition's stored next offset: already applied (a redelivery): skipped;
// - not decodable, or a time outside DateTime64's range: the sink dead-letters it: skipped;
// - its (user_key, event_id) in the partition's resend window: a client resend: skipped (the
//   first copy in Kafka order is the one kept, as in ClickHouse); for a while after partitions
//   were added to the topic, also in the window of the partition its key hashed to under the
//   other counts (`setPartitionCounts`): a resend whose original was written before the change
//   lands on another partition than the original (the sink checks the same, src/sink/partitions.ts);
// - older than the view's horizon: ClickHouse's to answer: only remembered in the window;
// - else: rendered to its reply JSON and queued with its index entries.
// A round's writes and the partitions' next offsets commit in one LMDB transaction
// (src/state/statestore.ts), so a crash at any moment resumes with nothing lost or applied twice.
//
// The resend windows are memory; each is saved with the offset it reflects (in its partition's
// first commit, then every WINDOW_SNAPSHOT_MS and at stop). After a crash a partition is read again from its
// window's offset: records up to the stored next offset only feed the window (replay), so it ends
// up as if the process had never stopped.
import type { Logger } from '../common/log.js';
import type { ErasureList } from '../erasure/list.js';
import { ResendWindow } from '../dedup/resendwindow.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { ReadBatch as PartitionBatch } from '../kafka/reader.js';
import type { StateStore } from '../state/statestore.js';
import type { DayStats } from './viewstore.js';
import { BULK_META, BULK_TREES, mergeRuns, MergeStopped, Runs, serializeRun, type BulkMark, type RunEntries } from './bulk.js';
import { decodeRecords, type DecodedRecords, type DecodeTask } from './decode.js';
import type { Decoder } from './decodepool.js';
import { packPending, type PendingBatch } from './pending.js';
import { PutOrder } from './putorder.js';
import { readHorizon, ViewWriter } from './viewstore.js';

export const WINDOW_SNAPSHOT_MS = 30_000;
/**
 * Records per LMDB transaction (a fetch of the backlog holds tens of thousands). Since the puts go
 * in key order (./putorder.ts), a bigger transaction puts more of them on each leaf it copies, and
 * the pages dirtied per event are what slow a large build (docs/architecture/view.md, "Large
 * builds"): at 4 M events, 40k per transaction built in 104 s against 181 s with 10k (same lock
 * hold). In Kafka order 10k-20k had written fastest at 1 M events (a transaction's dirty pages are
 * a sorted list in LMDB); small rounds (a caught-up view) are far below either.
 */
export const RECORDS_PER_COMMIT = 40_000;

/**
 * While the view is far behind the topic (a build, a replica back after a while: at least a
 * transaction's worth of records not applied), nobody waits for freshness, so a transaction
 * gathers records over several fetches, up to this many: in key order, more of them share each
 * leaf LMDB copies, and the pages dirtied per event are what a large build's rate falls with.
 * Bounded in memory by CATCH_UP_BYTES. Measured: docs/architecture/view.md, "Large builds".
 */
export const CATCH_UP_RECORDS = 320_000;
/**
 * The decoded bytes (reply JSON and key slabs, and their arrays) a catching-up transaction holds
 * at most until it is queued; the one committing holds as much again. ~1.1 KB per bench event.
 */
export const CATCH_UP_BYTES = 384 * 1024 * 1024;
/** Commits whose timings wait for the next report at most (the thread reports every 500 ms). */
const MAX_TIMINGS = 4_096;
/** Parts (slices) of one transaction at most: PutOrder numbers them in 16 bits. */
const MAX_PARTS = 65_535;

/** Fetches smaller than this are decoded in the builder's thread: a round trip to a decode thread costs more. */
const DECODE_HERE_BELOW = 512;

export interface BuilderOptions {
  topic: string;
  partitions: readonly number[];
  window: { events: number; ms: number };
  /** Decode threads; absent: every record is decoded in the builder's thread. */
  decoder?: Decoder;
  log: Logger;
  /** The erasure list: records of erased users are never written (src/erasure/). */
  erasures?: ErasureList;
  now?: () => number;
  /** Records per transaction at most (RECORDS_PER_COMMIT by default; QUERY_VIEW_COMMIT_RECORDS). */
  recordsPerCommit?: number;
  /** Records per transaction at most while far behind the topic (CATCH_UP_RECORDS by default; QUERY_VIEW_CATCHUP_RECORDS). */
  catchUpRecords?: number;
  /** Decoded bytes a transaction holds at most while far behind (CATCH_UP_BYTES by default; QUERY_VIEW_CATCHUP_BYTES). */
  catchUpBytes?: number;
  /**
   * Once near the topic's end, a transaction is queued at most this long after its first record
   * was taken (or at recordsPerCommit records); meanwhile its events go to `onPending` as they are
   * taken. 0 (or no onPending): queued at the end of each fetch.
   */
  commitMs?: number;
  /** Events taken into a transaction that is not committed yet, readable before it is (./pending.ts). */
  onPending?: (batch: PendingBatch) => void;
  /** Transaction `seq` has committed (and every one before it): its pending events are in LMDB. */
  onCommitted?: (seq: number) => void;
  /**
   * Called once a transaction is queued and the one before it committed, with the records handled
   * so far and whether anything of this builder's is committed yet (a test hook kills the process here).
   */
  afterQueued?: (records: number, committed: boolean) => void;
  /** A bulk build's merge (./bulk.ts MergeOptions): events per transaction, a user's index entries held at most. */
  bulkMerge?: { perTransaction?: number; userEntries?: number; blockBytes?: number };
  /** A bulk build checkpoints after its first run, then after a run once this long has passed since its last checkpoint (WINDOW_SNAPSHOT_MS; 0: after every run). */
  bulkCheckpointMs?: number;
  /**
   * A bulk build failed in its merge (not a stop): the builder thread restarts, which clears what
   * it left (./bulk.ts clearUnfinishedBulk). Absent: flush() only rejects.
   */
  onBulkFailed?: (err: unknown) => void;
}

/** Counters since start (the thread reports them; metrics and progress logs read them). */
export interface BuilderCounts {
  /** Events written to the view. */
  applied: number;
  /** Records skipped as already applied (below the stored offset). */
  redelivered: number;
  /** Records that only fed a resend window after a restart. */
  replayed: number;
  /** Client resends dropped. */
  resent: number;
  /** Records the sink dead-letters (undecodable, empty, time out of range). */
  invalid: number;
  /** Events older than the horizon (ClickHouse answers for them). */
  beyondHorizon: number;
  /** Records of users on the erasure list: never written. */
  erased: number;
  /** Records read in all (every offset handled). */
  records: number;
}

/**
 * Committed transactions since the last `takeTimings()`, as pairs: seconds from queued to committed
 * (a transaction waits for the one before it), and the age of its oldest record then (Kafka
 * timestamp to commit; a caught-up view serves the event from memory before, see onPending).
 */
export type CommitTimings = number[];

function windowKey(partition: number): Buffer {
  const k = Buffer.allocUnsafe(4);
  k.writeUInt32BE(partition, 0);
  return k;
}

/** An event of `events` read back from ClickHouse, rendered, with its identity hash. */
export interface BackfillRow {
  userKey: string;
  ts: number;
  id: string;
  type: string;
  event: string;
  /** The event as the view stores it (./render.ts storedEvent). */
  json: Uint8Array;
  hi: number;
  lo: number;
  receivedAt: number;
}

/** A partition's resend window as saved: partition, snapshot bytes, the next offset it reflects. */
type SavedWindow = readonly [number, Buffer, number];

/** What a bulk build's checkpoint commits (see takeCheckpoint()). */
interface BulkCheckpoint {
  runs: number;
  events: number;
  bytes: number;
  offsets: Map<number, number>;
  windows: SavedWindow[];
  days: Array<[number, DayStats | undefined]>;
}

interface WindowSnapshot {
  /** Next offset of the partition when the window was saved. */
  at: number;
}

export class ViewBuilder {
  readonly writer: ViewWriter;
  readonly counts: BuilderCounts = { applied: 0, redelivered: 0, replayed: 0, resent: 0, invalid: 0, beyondHorizon: 0, erased: 0, records: 0 };
  /** Next offset to apply, per partition (as stored). */
  readonly next = new Map<number, number>();
  private readonly windows = new Map<number, ResendWindow>();
  /** Per partition: where reading starts (the window's offset, at or below `next`). */
  readonly readFrom = new Map<number, number>();
  /** Per partition: the offset after the last record its window has seen. */
  private readonly windowAt = new Map<number, number>();
  /** Highest high watermark seen per partition (from fetches). */
  readonly high = new Map<number, number>();
  /** Records missing between two fetched offsets (deleted by retention before they were read). */
  gaps = 0;
  private horizon: number;
  /**
   * While the horizon is being moved up to this time: users of events older than it are marked
   * as they arrive (the move marks the ones already in the view first).
   */
  private markBelow = -Infinity;
  private lastSnapshot = -Infinity;
  /** Partitions whose window is in the state (restored, or saved in a commit queued since). */
  private readonly windowSaved = new Set<number>();
  private readonly now: () => number;
  /**
   * The topic's partition counts (the current and earlier ones) while a count changed within the
   * resend window's time; empty otherwise (no record pays for the look-up then).
   */
  private partitionCounts: readonly number[] = [];
  private readonly initial: Promise<void> = Promise.resolve();
  private committing: Promise<void> = this.initial;
  /** The events of the transaction being gathered, put in key order (./putorder.ts). */
  private readonly order = new PutOrder();
  private gathered: Gathered;
  private readonly perCommit: number;
  private timings: CommitTimings = [];
  private readonly catchUpRecords: number;
  private readonly catchUpBytes: number;
  private readonly commitMs: number;
  /** Transactions gathered so far (the number of the one being gathered). */
  private seq = 0;
  /** Inside apply(): tick() leaves the transaction to it. */
  private applying = false;
  /** Transactions queued and not committed yet. */
  private inFlight = 0;
  /** The part being taken: its applied records and the users it marks, when they are published (onPending). */
  private readonly fresh: number[] = [];
  private readonly freshMarks: number[] = [];
  private publishing = false;
  /** The runs of a bulk build in progress (./bulk.ts), or null. */
  private bulk: Runs | null = null;
  /** A bulk build was given up (a stop before it finished): nothing more is written. */
  private abandoned = false;
  /** A bulk build's runs are being merged. */
  private merging = false;
  /** The bulk build's mark as last written, and when its last checkpoint was taken. */
  private bulkMark: BulkMark | null = null;
  private lastCheckpoint = 0;
  /** The next run is checkpointed whatever the time (a stop, or before the merge). */
  private checkpointNext = false;

  constructor(
    private readonly state: StateStore,
    private readonly opts: BuilderOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.perCommit = opts.recordsPerCommit ?? RECORDS_PER_COMMIT;
    this.catchUpRecords = Math.max(opts.catchUpRecords ?? CATCH_UP_RECORDS, this.perCommit);
    this.catchUpBytes = opts.catchUpBytes ?? CATCH_UP_BYTES;
    this.commitMs = opts.onPending === undefined ? 0 : (opts.commitMs ?? 0);
    this.gathered = gathering(++this.seq);
    this.writer = new ViewWriter(state);
    this.horizon = readHorizon(state.db('view_meta')) ?? Infinity;
    const stored = state.offsets(opts.topic);
    const windows = state.db('windows');
    for (const p of opts.partitions) {
      const next = stored.get(p);
      const saved = state.getMeta<WindowSnapshot>(`window/${p}`);
      const bytes = saved !== undefined ? windows.get(windowKey(p)) : undefined;
      if (next === undefined) continue;
      this.next.set(p, next);
      if (saved !== undefined && bytes !== undefined && saved.at <= next) {
        this.windows.set(p, ResendWindow.restore(bytes, opts.window.events, opts.window.ms));
        this.windowSaved.add(p);
        this.readFrom.set(p, saved.at);
        this.windowAt.set(p, saved.at);
      } else {
        // No saved window (a crash before the first save): resends of events applied before
        // it may be taken again. Logged; the first round saves one.
        opts.log.warn({ partition: p, next }, 'no saved resend window for this partition; resends of earlier events are not recognized');
        this.readFrom.set(p, next);
      }
    }
  }

  /**
   * The topic has `current` partitions and had each of `earlier` within the resend window's time:
   * a record's resend is also looked for in the window of the partition its key hashed to under
   * each of them. No earlier count: only the record's own partition's window.
   */
  setPartitionCounts(current: number, earlier: readonly number[]): void {
    const others = earlier.filter((c) => c !== current);
    this.partitionCounts = others.length === 0 ? [] : [current, ...new Set(others)];
  }

  /** Sets the horizon (events older are not kept); call inside StateStore.write(). */
  setHorizon(horizon: number): void {
    this.horizon = horizon;
    this.writer.setHorizon(horizon);
  }

  get currentHorizon(): number {
    return this.horizon;
  }

  /**
   * Moves the horizon up to `horizon`, so that no read ever takes a page as complete without
   * events it no longer serves: (1) from now on, users of arriving events older than it are
   * marked; (2) users of the events already older than it are marked; (3) the horizon moves
   * (reads stop at it, and ask ClickHouse below it for marked users); (4) the older events are
   * deleted. Runs in this thread between fetches (it awaits their commits).
   */
  async moveHorizon(horizon: number, chunk: number, log: Logger): Promise<void> {
    if (horizon > this.horizon) {
      this.markBelow = horizon;
      // Events taken before now are not marked: they are committed before the scan that marks them.
      await this.flush();
      const marked = await this.writer.markUsersBelow(horizon, chunk);
      await this.state.write(() => this.setHorizon(horizon));
      log.info({ horizon: new Date(horizon).toISOString(), usersWithOlderEvents: marked }, 'view horizon moved forward');
    }
    const days = [...this.writer.days.keys()];
    if (days.length > 0 && Math.min(...days) * 86_400_000 < this.horizon) await this.writer.prune(this.horizon, chunk, log);
  }

  private window(p: number): ResendWindow {
    let w = this.windows.get(p);
    if (w === undefined) {
      w = new ResendWindow(this.opts.window.events, this.opts.window.ms);
      this.windows.set(p, w);
    }
    return w;
  }

  /**
   * Applies one fetch. Every part of it is handed to the decode threads at once; the parts are then
   * taken in order into the transaction being gathered, which is queued (the one before it
   * committed first: at most one in flight, and the thread yields between them) once it holds
   * `recordsPerCommit` records, or, while the view is far behind the topic, `catchUpRecords`
   * records or `catchUpBytes` decoded bytes: then it goes on over the next fetches (see
   * CATCH_UP_RECORDS). At the end of a fetch that leaves the view near the topic's end, what it
   * gathered is queued. Resolves once that is done and the transaction before it committed.
   */
  async apply(batches: readonly PartitionBatch[]): Promise<void> {
    this.applying = true;
    try {
      await this.applyFetch(batches);
    } finally {
      this.applying = false;
    }
  }

  private async applyFetch(batches: readonly PartitionBatch[]): Promise<void> {
    const slices: Slice[] = [];
    const perCommit = this.perCommit;
    let total = 0;
    for (const b of batches) total += b.records.length;
    const here = this.opts.decoder === undefined || total < DECODE_HERE_BELOW;
    for (const b of batches) {
      // Parts of at most perCommit records: the decode threads share a fetch's work.
      for (let from = 0; from < b.records.length; from += perCommit) {
        const to = Math.min(b.records.length, from + perCommit);
        const task = this.task(b, from, to);
        slices.push({ batch: b, from, to, decoded: here ? Promise.resolve(decodeRecords(task)) : this.opts.decoder!.decode(task) });
      }
    }
    for (const s of slices) {
      const d = await s.decoded;
      this.take(s.batch, s.from, s.to, d);
      if (this.gathered.records >= this.recordsBound() || this.gathered.bytes >= this.catchUpBytes || this.gathered.parts.length >= MAX_PARTS) await this.queue();
    }
    if (!this.farBehind() && (this.commitMs === 0 || this.due())) await this.queue();
  }

  /** Whether the transaction being gathered has waited commitMs since its first record. */
  private due(): boolean {
    return this.gathered.parts.length > 0 && performance.now() - this.gathered.started >= this.commitMs;
  }

  /**
   * Queues the transaction being gathered when it is due and no fetch is being applied (a quiet
   * topic brings no fetch to do it). Call every fraction of commitMs; resolves once queued.
   */
  async tick(): Promise<void> {
    // Far behind, a transaction gathers over fetches up to catchUpRecords (see CATCH_UP_RECORDS):
    // queued by time, a build's transactions would shrink to a quarter second's fetches. And only
    // once the one before has committed: apply() waits for it when it queues, this timer does not,
    // so commits slower than commitMs would pile transactions (and their decoded slabs) up unbounded.
    if (this.applying || this.inFlight > 0 || this.commitMs === 0 || this.farBehind() || !this.due()) return;
    await this.queue();
  }

  /** Records a transaction gathers at most: more while far behind (no one waits for freshness then). */
  private recordsBound(): number {
    return this.farBehind() ? this.catchUpRecords : this.perCommit;
  }

  /** Records in Kafka not yet applied (by the high watermarks seen) are at least a catching-up transaction's worth. */
  private farBehind(): boolean {
    if (this.bulk !== null) return true;
    let lag = 0;
    for (const [p, high] of this.high) lag += Math.max(0, high - (this.next.get(p) ?? 0));
    return lag >= this.perCommit;
  }

  /** Takes records [from, to) of a batch, decoded, into the transaction being gathered. */
  private take(b: PartitionBatch, from: number, to: number, d: DecodedRecords): void {
    const g = this.gathered;
    if (g.parts.length === 0) g.started = performance.now();
    const part = g.parts.length;
    const keys = Buffer.from(d.keys.buffer, d.keys.byteOffset, d.keys.byteLength);
    g.parts.push(d);
    g.keys.push(keys);
    g.json.push(Buffer.from(d.json.buffer, d.json.byteOffset, d.json.byteLength));
    g.partitions.add(b.partition);
    g.records += to - from;
    // A part's first record is its oldest (a partition's timestamps grow with its offsets, up to
    // producers' clocks), so one look per part, not per record.
    const ts = Number(b.records[from]!.timestamp);
    if (ts < g.oldest) g.oldest = ts;
    // What this part keeps alive until its transaction commits: the slabs and arrays it came in.
    for (const a of [d.status, d.json, d.jsonEnds, d.keys, d.keyEnds, d.userBytes, d.ts, d.receivedAt, d.typeCode, d.ids]) g.bytes += a.buffer.byteLength;
    if (b.highWatermark > (this.high.get(b.partition) ?? -1)) this.high.set(b.partition, b.highWatermark);
    // Far behind, nobody reads these events before they commit: only a caught-up view publishes.
    this.publishing = this.commitMs > 0 && !this.farBehind();
    this.applySlice(b, from, to, d, keys, g.offsets, part);
    if (this.publishing) {
      if (this.fresh.length > 0 || this.freshMarks.length > 0) this.opts.onPending!(packPending(g.seq, d, keys, g.json[part]!, this.fresh, this.freshMarks));
      this.fresh.length = 0;
      this.freshMarks.length = 0;
      this.publishing = false;
    }
  }

  /**
   * Queues the gathered transaction (its events in key order, the users to mark, day stats, the
   * partitions' next offsets, the windows when due), then waits for the one before it to commit.
   */
  private async queue(): Promise<void> {
    const g = this.gathered;
    if (g.parts.length === 0 || this.abandoned) return;
    this.gathered = gathering(++this.seq);
    if (this.bulk !== null) return this.queueRun(g, this.bulk);
    const order = this.order;
    // A partition's first commit always carries its window: its offsets must never be stored
    // without one, or a restart would take resends of the events before them again.
    const snapshot = this.now() - this.lastSnapshot >= WINDOW_SNAPSHOT_MS || [...g.partitions].some((p) => !this.windowSaved.has(p));
    const previous = this.committing;
    const queuedAt = performance.now();
    this.committing = this.state
      .write(
        () => {
          this.putMarks(g);
          // The events the slices took, queued in key order (see ./putorder.ts).
          order.forEach((part, k) => void this.writer.putDecoded(g.parts[part]!, k, g.keys[part]!, g.json[part]!));
          order.reset();
          this.writer.flushDays();
          if (snapshot) this.saveWindows();
        },
        this.opts.topic,
        g.offsets,
      )
      .then(() => {
        this.committed(queuedAt, g.oldest);
        this.opts.onCommitted?.(g.seq);
      })
      .finally(() => this.inFlight--);
    this.inFlight++;
    if (snapshot) this.lastSnapshot = this.now();
    await previous;
    this.opts.afterQueued?.(this.counts.records, previous !== this.initial);
  }

  /** Queues the marks of the users a transaction saw events of below the horizon (inside StateStore.write()). */
  private putMarks(g: Gathered): void {
    for (let i = 0; i < g.marks.length; i += 2) {
      const part = g.marks[i]!;
      const k = g.marks[i + 1]!;
      const d = g.parts[part]!;
      this.writer.markOlderKey(g.keys[part]!, d.keyEnds[3 * k]!, d.userBytes[k]!);
    }
  }

  /**
   * A bulk build's queue(): the gathered events become a run, in exact key order; only the users
   * to mark go to LMDB now (view_meta, which the merge does not write). Offsets are kept in memory
   * until the merge commits them (finishBulk()).
   */
  private async queueRun(g: Gathered, runs: Runs): Promise<void> {
    const { parts, keys } = g;
    const n = this.order.size;
    const entries: RunEntries = { n, part: new Uint16Array(n), record: new Uint32Array(n) };
    let i = 0;
    this.order.forEach(
      (p, k) => {
        entries.part[i] = p;
        entries.record[i++] = k;
        this.writer.countDecoded(parts[p]!, k);
      },
      (pa, ra, pb, rb) => {
        const ea = parts[pa]!.keyEnds;
        const eb = parts[pb]!.keyEnds;
        return keys[pa]!.compare(keys[pb]!, eb[3 * rb]!, eb[3 * rb + 1]!, ea[3 * ra]!, ea[3 * ra + 1]!);
      },
    );
    this.order.reset();
    const chunks = serializeRun(parts, keys, g.json, entries, this.opts.bulkMerge?.blockBytes, runs.alloc);
    const marks = g.marks.length === 0 ? Promise.resolve() : this.state.write(() => this.putMarks(g));
    const previous = this.committing;
    const queuedAt = performance.now();
    const written = runs.write(chunks, entries.n);
    // Taken now, at the run's end: the windows, offsets and day stats move on with the next one.
    const due = this.checkpointNext || performance.now() - this.lastCheckpoint >= (this.opts.bulkCheckpointMs ?? WINDOW_SNAPSHOT_MS);
    const checkpoint = due ? this.takeCheckpoint(runs) : null;
    const hook = due && !this.checkpointNext;
    this.checkpointNext = false;
    // Committed once this run and every one before it are in their files.
    this.committing = Promise.all([written, marks, previous])
      .then(async () => {
        if (checkpoint === null) return;
        await this.commitCheckpoint(checkpoint, runs);
        if (hook) this.opts.afterQueued?.(this.counts.records, true);
      })
      .then(() => this.committed(queuedAt, g.oldest))
      .finally(() => this.inFlight--);
    this.inFlight++;
    await previous;
  }

  /** Queues what was gathered as a run, checkpointed, and waits for it (the checkpoint goes alone if nothing was gathered). */
  private async checkpointNow(runs: Runs): Promise<void> {
    this.checkpointNext = true;
    await this.queue();
    await this.committing;
    if (this.checkpointNext) {
      this.checkpointNext = false;
      await this.commitCheckpoint(this.takeCheckpoint(runs), runs);
    }
  }

  /** What a bulk build's checkpoint commits, as of the end of the run just queued. */
  private takeCheckpoint(runs: Runs): BulkCheckpoint {
    this.lastCheckpoint = performance.now();
    return { runs: runs.count, events: runs.events, bytes: runs.bytes, offsets: new Map(this.next), windows: this.snapshotWindows(), days: this.writer.takeDays() };
  }

  /** Commits a checkpoint: its runs' sizes in the mark, with the offsets, windows and day stats they reflect. */
  private commitCheckpoint(c: BulkCheckpoint, runs: Runs): Promise<void> {
    const mark: BulkMark = { ...this.bulkMark!, runs: runs.sizes.slice(0, c.runs), events: c.events, bytes: c.bytes };
    return this.state.write(
      () => {
        this.writer.putDays(c.days);
        this.putWindows(c.windows);
        this.state.putMeta(BULK_META, mark);
        this.bulkMark = mark;
      },
      this.opts.topic,
      c.offsets,
    );
  }

  /**
   * Starts a bulk build (./bulk.ts) of this empty view, its runs in `dir`: transactions become
   * runs until flush() merges them and commits the offsets. The state is marked until then, so
   * a view stopped or killed before is wiped at its next open.
   */
  async startBulk(dir: string, attempt = 1): Promise<void> {
    const events = (this.state.db('events').getStats() as { entryCount: number }).entryCount;
    if (events > 0 || this.next.size > 0) throw new Error('a bulk build needs an empty view');
    const mark: BulkMark = { startedAt: new Date(this.now()).toISOString(), attempt };
    await this.state.write(() => this.state.putMeta(BULK_META, mark));
    this.bulkMark = mark;
    // The first run is checkpointed at once: a restart a few seconds in resumes too.
    this.lastCheckpoint = -Infinity;
    this.bulk = new Runs(dir);
  }

  /**
   * Resumes the bulk build this state's mark names, from its last checkpoint (./bulk.ts; the
   * caller has checked it can: interruptedBulk()): its runs are kept, any written after them
   * dropped, what a merge had begun emptied; the records after the checkpoint's offsets (where
   * this builder reads from) go into new runs. Returns the mark.
   */
  async resumeBulk(dir: string): Promise<BulkMark> {
    const mark = this.state.getMeta<BulkMark>(BULK_META);
    if (mark?.runs === undefined) throw new Error('no bulk build checkpoint to resume');
    await Promise.all(BULK_TREES.map((name) => this.state.db(name).clearAsync()));
    this.bulk = new Runs(dir, { runs: mark.runs, events: mark.events ?? 0, bytes: mark.bytes ?? 0 });
    this.bulkMark = mark;
    this.lastCheckpoint = performance.now();
    return mark;
  }

  /** A bulk build's phase: taking records into runs, or merging them; null when none is in progress. */
  get bulkPhase(): 'runs' | 'merging' | null {
    return this.merging ? 'merging' : this.bulk !== null ? 'runs' : null;
  }

  /** Merges a bulk build's runs into LMDB, then commits the offsets, windows and day stats (the build's end). */
  private async finishBulk(runs: Runs): Promise<void> {
    const started = performance.now();
    this.opts.log.info({ runs: runs.count, events: runs.events, runBytes: runs.bytes }, 'view bulk build: merging its runs into the view');
    this.merging = true;
    try {
      const counts = await mergeRuns(this.state, runs, {
        ...this.opts.bulkMerge,
        log: this.opts.log,
        afterCommit: () => this.opts.afterQueued?.(this.counts.records, true),
        stopped: () => this.abandoned,
      });
      // Each partition's window is at its next offset already (applySlice): saved with it here.
      const offsets = new Map(this.next);
      await this.state.write(
        () => {
          this.writer.flushDays();
          this.saveWindows();
          this.state.removeMeta(BULK_META);
        },
        this.opts.topic,
        offsets,
      );
      this.lastSnapshot = this.now();
      this.opts.log.info({ ...counts, seconds: Math.round((performance.now() - started) / 100) / 10 }, 'view bulk build: merged');
      this.opts.onCommitted?.(this.seq - 1);
      runs.remove();
    } catch (err) {
      // Stopped: the runs stay for the next start, which empties what was merged and merges again.
      if (!(err instanceof MergeStopped)) {
        runs.remove();
        this.opts.onBulkFailed?.(err);
      }
      throw err;
    } finally {
      this.merging = false;
    }
  }

  private committed(queuedAt: number, oldest: number): void {
    if (this.timings.length >= 2 * MAX_TIMINGS) return;
    this.timings.push((performance.now() - queuedAt) / 1000, Math.max(0, this.now() - oldest) / 1000);
  }

  /** The timings of the transactions committed since the last call (see CommitTimings). */
  takeTimings(): CommitTimings {
    const t = this.timings;
    this.timings = [];
    return t;
  }

  /** Records [from, to) of a batch as a decode task; those already applied are left undecoded. */
  private task(b: PartitionBatch, from: number, to: number): DecodeTask {
    const readFrom = this.readFrom.get(b.partition) ?? this.next.get(b.partition) ?? -1;
    const n = to - from;
    let bytes = 0;
    for (let i = from; i < to; i++) {
      const m = b.records[i]!;
      if (m.value !== null && Number(m.offset) >= readFrom) bytes += m.value.length;
    }
    // One copy of the values into a buffer the decode thread will own (moved, not cloned).
    const values = new Uint8Array(bytes);
    const ends = new Uint32Array(n);
    const empty = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const m = b.records[from + i]!;
      if (m.value === null || Number(m.offset) < readFrom) empty[i] = 1;
      else {
        values.set(m.value, at);
        at += m.value.length;
      }
      ends[i] = at;
    }
    return { values, ends, empty };
  }

  /** Resolves when everything applied so far is committed (what is being gathered is queued first). */
  async flush(): Promise<void> {
    const runs = this.bulk;
    if (runs === null) {
      await this.queue();
      await this.committing;
    } else {
      // A bulk build's last run is checkpointed: a stop during the merge then resumes with every run.
      await this.checkpointNow(runs);
      // The merge: begun here, or by a flush beside this one.
      if (this.bulk === runs) {
        this.bulk = null;
        this.committing = this.finishBulk(runs);
      }
      await this.committing;
    }
    // Given up by a stop: what was applied is not committed, and never will be.
    if (this.abandoned) throw new MergeStopped();
  }

  /**
   * Saves every window with its offset (at stop, so a restart replays nothing). A bulk build in
   * progress is paused instead: merging could take longer than a stop may. Taking runs, what was
   * gathered becomes a run and a checkpoint commits; merging, the merge stops between two
   * transactions. Either way the next start resumes from the last checkpoint (./bulk.ts).
   */
  async saveAll(): Promise<void> {
    const runs = this.bulk;
    if (runs !== null && !this.merging) {
      await this.checkpointNow(runs);
      this.abandoned = true;
      this.bulk = null;
      this.opts.log.info({ applied: this.counts.applied, runs: runs.count, events: runs.events }, 'view bulk build paused at this stop: its runs are kept, and the next start resumes it');
      return;
    }
    if (this.merging) {
      // Nothing more is written; the runs and the mark stay.
      this.abandoned = true;
      await this.committing.catch(() => {});
      this.opts.log.info({ applied: this.counts.applied }, 'view bulk build stopped during its merge: the next start empties what was merged and merges its runs again');
      return;
    }
    await this.flush();
    await this.state.write(() => this.saveWindows());
  }

  private saveWindows(): void {
    this.putWindows(this.snapshotWindows());
  }

  /** Every partition's window as it is now, with the offset it reflects. */
  private snapshotWindows(): SavedWindow[] {
    const out: SavedWindow[] = [];
    for (const [p, w] of this.windows) {
      const at = this.windowAt.get(p);
      if (at !== undefined) out.push([p, w.snapshot(), at]);
    }
    return out;
  }

  /** Queues windows that snapshotWindows() gave (inside StateStore.write()). */
  private putWindows(windows: readonly SavedWindow[]): void {
    const db = this.state.db('windows');
    for (const [p, snapshot, at] of windows) {
      void db.put(windowKey(p), snapshot);
      this.windowSaved.add(p);
      this.state.putMeta(`window/${p}`, { at } satisfies WindowSnapshot);
    }
  }

  /**
   * Applies events of a partition read back from ClickHouse, for offsets Kafka no longer holds
   * (beyond the topic's retention), in offset order. `upTo`: the last chunk; the partition then
   * continues from Kafka at that offset.
   */
  async applyBackfill(partition: number, rows: readonly BackfillRow[], upTo: number | null): Promise<void> {
    await this.queue();
    const w = this.window(partition);
    const offsets = new Map<number, number>();
    const previous = this.committing;
    const commit = this.state.write(
      () => {
        for (const r of rows) {
          // ClickHouse holds no resends; the window learns the identities for those to come.
          w.seen(r.hi, r.lo, r.receivedAt);
          if (this.opts.erasures?.skips(r.userKey, r.receivedAt) === true) {
            this.counts.erased++;
            continue;
          }
          if (r.ts < this.horizon) {
            this.counts.beyondHorizon++;
            this.writer.markOlder(r.userKey);
            continue;
          }
          if (r.ts < this.markBelow) this.writer.markOlder(r.userKey);
          this.writer.put(r.userKey, r.ts, r.id, r.type, r.event, r.json);
          this.counts.applied++;
          this.backfilled++;
        }
        this.writer.flushDays();
        if (upTo !== null) {
          this.next.set(partition, upTo);
          this.readFrom.set(partition, upTo);
          this.windowAt.set(partition, upTo);
          offsets.set(partition, upTo);
          this.saveWindows();
        }
      },
      this.opts.topic,
      offsets,
    );
    this.committing = commit;
    await previous;
    await commit;
  }

  /** Whether the identity is in the window of a partition the record's key hashed to under another count. */
  private seenElsewhere(p: number, key: Buffer | null, hi: number, lo: number): boolean {
    if (key === null) return false;
    for (const count of this.partitionCounts) {
      const q = partitionForKey(key, count);
      if (q !== p && this.windows.get(q)?.has(hi, lo) === true) return true;
    }
    return false;
  }

  /** Events taken from ClickHouse (backfill). */
  backfilled = 0;

  /**
   * Records [from, to) of a partition's batch, decoded, `keys` its keys slab, part `part` of the
   * transaction being gathered: the events to write go to `this.order` as record k of that part,
   * the users to mark as having older events to its marks, the partition's next offset to `offsets`.
   */
  private applySlice(b: PartitionBatch, from: number, to: number, d: DecodedRecords, keys: Buffer, offsets: Map<number, number>, part: number): void {
    const p = b.partition;
    const c = this.counts;
    const floor = this.next.get(p) ?? -1;
    const readFrom = this.readFrom.get(p) ?? floor;
    const w = this.window(p);
    const first = b.records[from];
    if (from === 0 && first !== undefined && floor >= 0 && Number(first.offset) > Math.max(floor, readFrom)) {
      this.gaps += Number(first.offset) - Math.max(floor, readFrom);
      this.opts.log.error(
        { partition: p, expected: Math.max(floor, readFrom), got: Number(first.offset) },
        'records missing from Kafka (deleted by retention before the view read them): their events are not in the view',
      );
    }
    const horizon = this.horizon;
    const messages = b.records;
    const order = this.order;
    const marks = this.gathered.marks;
    for (let i = from; i < to; i++) {
      const k = i - from;
      const offset = Number(messages[i]!.offset);
      c.records++;
      const replay = offset < floor;
      if (replay && offset < readFrom) {
        c.redelivered++;
        continue;
      }
      if (d.status[k] !== 0) {
        c.invalid++;
        continue;
      }
      const hi = d.ids[2 * k]!;
      const lo = d.ids[2 * k + 1]!;
      let resent = w.seen(hi, lo, d.receivedAt[k]!);
      if (replay) {
        c.replayed++;
        continue;
      }
      if (!resent && this.partitionCounts.length > 0) resent = this.seenElsewhere(p, messages[i]!.key, hi, lo);
      if (resent) {
        c.resent++;
        continue;
      }
      const erasures = this.opts.erasures;
      if (erasures !== undefined && erasures.skipsRecord(messages[i]!.key, messages[i]!.timestamp)) {
        c.erased++;
        continue;
      }
      const ts = d.ts[k]!;
      if (ts < horizon) {
        c.beyondHorizon++;
        marks.push(part, k);
        if (this.publishing) this.freshMarks.push(k);
        continue;
      }
      if (ts < this.markBelow) {
        marks.push(part, k);
        if (this.publishing) this.freshMarks.push(k);
      }
      order.add(part, k, keys, d.keyEnds[3 * k]!, d.keyEnds[3 * k + 1]!);
      if (this.publishing) this.fresh.push(k);
      c.applied++;
    }
    // The whole batch: past its last offset (control records included); a part: past its last record.
    const next = to === messages.length ? b.lastOffset + 1 : Number(messages[to - 1]!.offset) + 1;
    if (next > (this.next.get(p) ?? -1)) {
      this.next.set(p, next);
      offsets.set(p, next);
    }
    if (next > readFrom) {
      this.windowAt.set(p, next);
      // Replay is over once the stored offset is reached.
      this.readFrom.set(p, next);
    }
  }
}

/** A transaction being gathered: the decoded parts its puts point into, and what it commits with them. */
interface Gathered {
  /** Its number: transactions are numbered in the order they are gathered (and committed). */
  seq: number;
  /** performance.now() when its first part was taken. */
  started: number;
  parts: DecodedRecords[];
  keys: Buffer[];
  json: Buffer[];
  /** Pairs (part, record): users to mark as having events older than the horizon. */
  marks: number[];
  offsets: Map<number, number>;
  partitions: Set<number>;
  records: number;
  /** Bytes of the parts' buffers (held until the transaction commits). */
  bytes: number;
  /** The oldest Kafka timestamp of its parts' first records, ms. */
  oldest: number;
}

function gathering(seq: number): Gathered {
  return { seq, started: 0, parts: [], keys: [], json: [], marks: [], offsets: new Map(), partitions: new Set(), records: 0, bytes: 0, oldest: Infinity };
}

interface Slice {
  batch: PartitionBatch;
  from: number;
  to: number;
  decoded: Promise<DecodedRecords>;
}
