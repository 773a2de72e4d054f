// What the sink knows per assigned partition: its floor (the highest offset already in events)
// and its resend window. Both are facts about ClickHouse, so after every (re)assignment they are
// checked against it: a partition whose floor moved while we did not own it, or whose last round
// failed half-way, is rebuilt from ClickHouse before its next record is looked at.
//
// Partitions added to the topic: a user's key then hashes to another partition (for most users
// when the count doubles), so a client's resend of an event acknowledged before the change lands
// on another partition than its original, whose window never saw it. A window is therefore also
// given the recent identities of users that moved to its partition from others (one query over
// the topic's recent ids, by ClickHouse's kafkaMurmurHash, the producers' partitioner), when:
// the partition has no rows in events yet (it is new), some of its own recent rows belong to users
// that hash elsewhere now (the count changed within the window), or this process saw the count
// grow (then every window is rebuilt, on the next assignment that follows the change).
import type { Logger } from '../common/log.js';
import { hashPair } from '../dedup/hash.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { SinkStore } from './sinkstore.js';
import { ResendWindow } from '../dedup/resendwindow.js';

export interface PartitionState {
  /** Records at or below this offset are in events already (-1: none). */
  floor: number;
  readonly window: ResendWindow;
}

interface Entry extends PartitionState {
  /** Checked against ClickHouse since the last assignment. */
  checked: boolean;
  /** A round failed after touching the window: it may hold rows that never landed. */
  dirty: boolean;
}

export interface WindowOptions {
  events: number;
  ms: number;
}

export class PartitionStates {
  private readonly entries = new Map<number, Entry>();
  private readonly id = new Uint32Array(2);
  /** The topic's partition count when last asked (the windows are built for it). */
  private count: number;
  /** The count asked for after the last assignment, before the next use of a partition. */
  private asking: Promise<number> | null = null;

  constructor(
    private readonly store: SinkStore,
    private readonly window: WindowOptions,
    private readonly log: Logger,
    /** The topic's partition count at start, and how to ask for it again after each assignment. */
    private readonly partitions: { count: number; now?: () => Promise<number> } = { count: 1 },
  ) {
    this.count = partitions.count;
  }

  /** After a (re)join: forget partitions no longer ours, re-check the others before use. */
  assigned(partitions: readonly number[]): void {
    const mine = new Set(partitions);
    for (const p of this.entries.keys()) if (!mine.has(p)) this.entries.delete(p);
    for (const e of this.entries.values()) e.checked = false;
    // A re-join may follow partitions added to the topic (kafkajs re-joins when it sees them).
    const now = this.partitions.now;
    if (now !== undefined) {
      const before = this.count;
      this.asking = now().catch((err: unknown) => {
        this.log.warn({ err }, 'could not read the events topic\'s partition count after a re-join; resend windows keep the count they had');
        return before;
      });
    }
  }

  /**
   * A round failed after it may have put rows into the windows (and maybe before they landed):
   * the partitions are checked against ClickHouse again before their next use, and a dirty window
   * is rebuilt. Without the re-check, a round redelivered to this member without a re-join (kafkajs
   * retries a failed fetch in place) would find its own rows in the window and drop them as resends.
   */
  markDirty(partitions: Iterable<number>): void {
    for (const p of partitions) {
      const e = this.entries.get(p);
      if (e) {
        e.dirty = true;
        e.checked = false;
      }
    }
  }

  get(partition: number): PartitionState {
    const e = this.entries.get(partition);
    if (!e?.checked) throw new Error(`partition ${partition} used before it was checked against ClickHouse`);
    return e;
  }

  /** Makes every given partition ready to use; reads ClickHouse only for those that need it. */
  async ensure(partitions: readonly number[], signal: AbortSignal): Promise<void> {
    const todo = partitions.filter((p) => !this.entries.get(p)?.checked);
    if (todo.length === 0) return;
    if (this.asking !== null) {
      const count = await this.asking;
      this.asking = null;
      if (count > this.count) {
        this.log.info(
          { before: this.count, partitionCount: count },
          'the events topic has more partitions now: resend windows are rebuilt with the recent events of users whose partition changed, so their resends are still dropped',
        );
        this.count = count;
        for (const e of this.entries.values()) e.dirty = true;
      }
    }
    const floors = await this.store.floors(todo, signal);
    for (const p of todo) {
      const floor = floors.get(p) ?? -1;
      const known = this.entries.get(p);
      if (known && !known.dirty && known.floor === floor) {
        known.checked = true;
        continue;
      }
      const window = new ResendWindow(this.window.events, this.window.ms);
      const loaded = await this.rebuild(p, window, floor, signal);
      this.entries.set(p, { floor, window, checked: true, dirty: false });
      this.log.info({ partition: p, floor, resendWindow: loaded }, 'partition state loaded from ClickHouse');
    }
  }

  private async rebuild(partition: number, window: ResendWindow, floor: number, signal: AbortSignal): Promise<number> {
    if (window.capacity === 0) return 0;
    const own = await this.store.recentIds(partition, window.capacity, signal);
    let moved = floor < 0 && this.count > 1;
    for (let i = 0; i < own.length && !moved; i++) moved = partitionForKey(own[i]!.userKey, this.count) !== partition;
    // Inserted within the window's time (and an hour for the sink's lag) before now: older rows
    // cannot be the originals of resends arriving now. The exact cut (by arrival) is below.
    const insertedSince = this.window.ms > 0 ? Date.now() - this.window.ms - 3_600_000 : 0;
    const others = moved ? await this.store.movedIds(partition, this.count, insertedSince, window.capacity, signal) : [];
    if (others.length > 0) this.log.info({ partition, partitionCount: this.count, events: others.length }, 'resend window given the recent events of users that moved to this partition');
    // Oldest first: the others' (older: written before the users moved), then the partition's own.
    const recent = others.length === 0 ? own : [...own, ...others];
    if (recent.length === 0) return 0;
    let newest = 0;
    for (const r of recent) if (r.receivedAtMs > newest) newest = r.receivedAtMs;
    const cutoff = this.window.ms > 0 ? newest - this.window.ms : -Infinity;
    let n = 0;
    // Oldest first, as the rows arrived, so the window ends up as it was when they were inserted.
    for (let i = recent.length - 1; i >= 0; i--) {
      const r = recent[i]!;
      if (r.receivedAtMs < cutoff) continue;
      hashPair(r.userKey, r.eventId, this.id, 0);
      window.seen(this.id[0]!, this.id[1]!, r.receivedAtMs);
      n++;
    }
    return n;
  }
}
