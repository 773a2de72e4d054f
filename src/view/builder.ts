// Applying Kafka records to the view, effectively once: the heart of the builder thread.
//
// Per record, in partition order, the same decisions the sink makes for ClickHouse, so the view
// holds exactly the events ClickHouse holds:
// - below the partition's stored next offset: already applied (a redelivery): skipped;
// - not decodable, or a time outside DateTime64's range: the sink dead-letters it: skipped;
// - its (user_key, event_id) in the partition's resend window: a client resend: skipped (the
//   first copy in Kafka order is the one kept, as in ClickHouse);
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
import type { ReadBatch as PartitionBatch } from '../kafka/reader.js';
import type { StateStore } from '../state/statestore.js';
import { decodeRecords, type DecodedRecords, type DecodeTask } from './decode.js';
import type { Decoder } from './decodepool.js';
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
  /**
   * Called once a transaction is queued and the one before it committed, with the records handled
   * so far and whether anything of this builder's is committed yet (a test hook kills the process here).
   */
  afterQueued?: (records: number, committed: boolean) => void;
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
  private readonly initial: Promise<void> = Promise.resolve();
  private committing: Promise<void> = this.initial;
  /** The events of the transaction being queued, put in key order (./putorder.ts). */
  private readonly order = new PutOrder();

  constructor(
    private readonly state: StateStore,
    private readonly opts: BuilderOptions,
  ) {
    this.now = opts.now ?? Date.now;
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
   * Applies one fetch, in transactions of at most `recordsPerCommit` records. Every part of the
   * fetch is handed to the decode threads at once; the parts are then written in order, each
   * transaction queued while the previous one commits (at most one in flight), and the thread
   * yields between them. Resolves once the last one is queued and the one before it committed.
   */
  async apply(batches: readonly PartitionBatch[]): Promise<void> {
    const units: Slice[][] = [];
    let unit: Slice[] = [];
    let n = 0;
    const perCommit = this.opts.recordsPerCommit ?? RECORDS_PER_COMMIT;
    let total = 0;
    for (const b of batches) total += b.records.length;
    const here = this.opts.decoder === undefined || total < DECODE_HERE_BELOW;
    for (const b of batches) {
      let from = 0;
      do {
        const take = Math.min(b.records.length - from, perCommit - n);
        const task = this.task(b, from, from + take);
        unit.push({ batch: b, from, to: from + take, decoded: here ? Promise.resolve(decodeRecords(task)) : this.opts.decoder!.decode(task) });
        n += take;
        from += take;
        if (n >= perCommit) {
          units.push(unit);
          unit = [];
          n = 0;
        }
      } while (from < b.records.length);
    }
    if (unit.length > 0) units.push(unit);
    for (const u of units) {
      const decoded = await Promise.all(u.map((s) => s.decoded));
      const offsets = new Map<number, number>();
      // A partition's first commit always carries its window: its offsets must never be stored
      // without one, or a restart would take resends of the events before them again.
      const snapshot = this.now() - this.lastSnapshot >= WINDOW_SNAPSHOT_MS || u.some((sl) => !this.windowSaved.has(sl.batch.partition));
      const previous = this.committing;
      this.committing = this.state.write(
        () => {
          const order = this.order;
          order.reset();
          const keys = decoded.map((d) => Buffer.from(d.keys.buffer, d.keys.byteOffset, d.keys.byteLength));
          const json = decoded.map((d) => Buffer.from(d.json.buffer, d.json.byteOffset, d.json.byteLength));
          u.forEach((s, k) => this.applySlice(s.batch, s.from, s.to, decoded[k]!, keys[k]!, offsets, k));
          // The events the slices took, queued in key order (see ./putorder.ts).
          order.forEach((part, k) => void this.writer.putDecoded(decoded[part]!, k, keys[part]!, json[part]!));
          this.writer.flushDays();
          if (snapshot) this.saveWindows();
        },
        this.opts.topic,
        offsets,
      );
      if (snapshot) this.lastSnapshot = this.now();
      await previous;
      this.opts.afterQueued?.(this.counts.records, previous !== this.initial);
    }
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

  /** Resolves when everything applied so far is committed. */
  async flush(): Promise<void> {
    await this.committing;
  }

  /** Saves every window with its offset (at stop, so a restart replays nothing). */
  async saveAll(): Promise<void> {
    await this.flush();
    await this.state.write(() => this.saveWindows());
  }

  private saveWindows(): void {
    const db = this.state.db('windows');
    for (const [p, w] of this.windows) {
      const at = this.windowAt.get(p);
      if (at === undefined) continue;
      void db.put(windowKey(p), w.snapshot());
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

  /** Events taken from ClickHouse (backfill). */
  backfilled = 0;

  /**
   * Records [from, to) of a partition's batch, decoded (inside StateStore.write()), `keys` its
   * keys slab: the events to write go to `this.order` as record k of part `part`, for the caller to queue.
   */
  private applySlice(b: PartitionBatch, from: number, to: number, d: DecodedRecords, keys: Buffer, offsets: Map<number, number>, part: number): void {
    const p = b.partition;
    const c = this.counts;
    const floor = this.next.get(p) ?? -1;
    const readFrom = this.readFrom.get(p) ?? floor;
    const w = this.window(p);
    if (b.highWatermark > (this.high.get(p) ?? -1)) this.high.set(p, b.highWatermark);
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
      const resent = w.seen(d.ids[2 * k]!, d.ids[2 * k + 1]!, d.receivedAt[k]!);
      if (replay) {
        c.replayed++;
        continue;
      }
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
        this.writer.markOlderKey(keys, d.keyEnds[3 * k]!, d.userBytes[k]!);
        continue;
      }
      if (ts < this.markBelow) this.writer.markOlderKey(keys, d.keyEnds[3 * k]!, d.userBytes[k]!);
      order.add(part, k, keys, d.keyEnds[3 * k]!, d.keyEnds[3 * k + 1]!);
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

interface Slice {
  batch: PartitionBatch;
  from: number;
  to: number;
  decoded: Promise<DecodedRecords>;
}
