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
// (src/state/store.ts), so a crash at any moment resumes with nothing lost or applied twice.
//
// The resend windows are memory; each is saved with the offset it reflects (on the first round,
// then every WINDOW_SNAPSHOT_MS and at stop). After a crash a partition is read again from its
// window's offset: records up to the stored next offset only feed the window (replay), so it ends
// up as if the process had never stopped.
import type { Logger } from '../common/log.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../common/time.js';
import { hashPair } from '../dedup/hash.js';
import { ResendWindow } from '../dedup/window.js';
import type { PartitionBatch } from '../kafka/consumer.js';
import { EventCodec, type EventRecord } from '../schema/index.js';
import type { StateStore } from '../state/store.js';
import { recordJson } from './render.js';
import { readHorizon, ViewWriter } from './store.js';

export const WINDOW_SNAPSHOT_MS = 30_000;
/**
 * Records per LMDB transaction. A fetch holds up to tens of thousands; one transaction for all of
 * them made each commit slower per event (LMDB keeps a transaction's dirty pages in a sorted list)
 * and kept the thread busy for seconds without a heartbeat. Measured with 1 M events: 10k-20k
 * records per transaction wrote fastest.
 */
export const RECORDS_PER_COMMIT = 10_000;

export interface BuilderOptions {
  topic: string;
  partitions: readonly number[];
  window: { events: number; ms: number };
  log: Logger;
  now?: () => number;
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
  /** Records read in all (every offset handled). */
  records: number;
}

/** The view's user key rule, as events.user_key computes it (user_id, else anonymous_id). */
export function userKeyOf(r: EventRecord): string {
  return r.user_id !== null && r.user_id !== '' ? r.user_id : (r.anonymous_id ?? '');
}

/** The sink's rule (src/sink/rows.ts): every time written must fit DateTime64(3). */
function timesFit(r: EventRecord): boolean {
  const fits = (ms: number) => Number.isInteger(ms) && ms >= MIN_TIME_MS && ms < MAX_TIME_MS;
  return fits(r.timestamp) && fits(r.received_at) && (r.sent_at === null || fits(r.sent_at));
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
  json: string;
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
  readonly counts: BuilderCounts = { applied: 0, redelivered: 0, replayed: 0, resent: 0, invalid: 0, beyondHorizon: 0, records: 0 };
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
  private readonly codec = new EventCodec();
  private readonly id = new Uint32Array(2);
  private horizon: number;
  /**
   * While the horizon is being moved up to this time: users of events older than it are marked
   * as they arrive (the move marks the ones already in the view first).
   */
  private markBelow = -Infinity;
  private lastSnapshot = -Infinity;
  private readonly now: () => number;
  private committing: Promise<void> = Promise.resolve();

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
   * Applies one fetch, in transactions of at most RECORDS_PER_COMMIT records; resolves once the
   * last one is queued and the one before it committed, so decoding the next records overlaps the
   * commit of the previous ones (at most one commit in flight), and the thread yields between them.
   */
  async apply(batches: readonly PartitionBatch[]): Promise<void> {
    let slices: [PartitionBatch, number, number][] = [];
    let n = 0;
    const commit = async () => {
      const offsets = new Map<number, number>();
      const snapshot = this.now() - this.lastSnapshot >= WINDOW_SNAPSHOT_MS;
      const todo = slices;
      slices = [];
      n = 0;
      const previous = this.committing;
      this.committing = this.state.write(
        () => {
          for (const [b, from, to] of todo) this.applySlice(b, from, to, offsets);
          this.writer.flushDays();
          if (snapshot) this.saveWindows();
        },
        this.opts.topic,
        offsets,
      );
      if (snapshot) this.lastSnapshot = this.now();
      await previous;
    };
    for (const b of batches) {
      let from = 0;
      do {
        const take = Math.min(b.messages.length - from, RECORDS_PER_COMMIT - n);
        slices.push([b, from, from + take]);
        n += take;
        from += take;
        if (n >= RECORDS_PER_COMMIT) await commit();
      } while (from < b.messages.length);
    }
    if (slices.length > 0) await commit();
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

  /** Records [from, to) of a partition's batch (inside StateStore.write()). */
  private applySlice(b: PartitionBatch, from: number, to: number, offsets: Map<number, number>): void {
    const p = b.partition;
    const c = this.counts;
    const floor = this.next.get(p) ?? -1;
    const readFrom = this.readFrom.get(p) ?? floor;
    const w = this.window(p);
    if (b.highWatermark > (this.high.get(p) ?? -1)) this.high.set(p, b.highWatermark);
    const first = b.messages[from];
    if (from === 0 && first !== undefined && floor >= 0 && Number(first.offset) > Math.max(floor, readFrom)) {
      this.gaps += Number(first.offset) - Math.max(floor, readFrom);
      this.opts.log.error(
        { partition: p, expected: Math.max(floor, readFrom), got: Number(first.offset) },
        'records missing from Kafka (deleted by retention before the view read them): their events are not in the view',
      );
    }
    const id = this.id;
    const horizon = this.horizon;
    const messages = b.messages;
    for (let i = from; i < to; i++) {
      const m = messages[i]!;
      const offset = Number(m.offset);
      c.records++;
      const replay = offset < floor;
      if (replay && offset < readFrom) {
        c.redelivered++;
        continue;
      }
      if (m.value === null) {
        c.invalid++;
        continue;
      }
      let r: EventRecord;
      try {
        r = this.codec.decode(m.value);
      } catch {
        c.invalid++;
        continue;
      }
      if (!timesFit(r)) {
        c.invalid++;
        continue;
      }
      const userKey = userKeyOf(r);
      hashPair(userKey, r.event_id, id, 0);
      const resent = w.seen(id[0]!, id[1]!, r.received_at);
      if (replay) {
        c.replayed++;
        continue;
      }
      if (resent) {
        c.resent++;
        continue;
      }
      if (r.timestamp < horizon) {
        c.beyondHorizon++;
        this.writer.markOlder(userKey);
        continue;
      }
      if (r.timestamp < this.markBelow) this.writer.markOlder(userKey);
      this.writer.put(userKey, r.timestamp, r.event_id, r.type, r.event, recordJson(r));
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
