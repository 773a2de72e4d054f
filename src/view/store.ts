// The view's data in LMDB (see ./keys.ts for the layout): writes from the builder thread, range
// reads from the query API's thread. LMDB gives readers a consistent snapshot while one writer
// commits, so reads never wait for writes.
//
// Besides the events and their two indexes the view keeps, in the same transactions:
// - `days`: per UTC day of event time, how many events and bytes the view holds (the disk budget
//   and the size metrics read it; pruning drops whole days);
// - meta `horizon`: the view holds every event with timestamp >= horizon; older ones are
//   ClickHouse's to answer.
import type { Logger } from '../common/log.js';
import type { Bytes, StateStore } from '../state/store.js';
import { KeyWriter, nameLength, readTime, TIME_BASE_MS, TIME_END_MS, TYPE_CODES } from './keys.js';

export const VIEW_DATABASES = ['events', 'by_type', 'by_event', 'days', 'windows'] as const;

export const DAY_MS = 86_400_000;
const EMPTY = Buffer.alloc(0);

/** What one day of event time holds. */
export interface DayStats {
  events: number;
  bytes: number;
}

export interface ViewMeta {
  /** Every event with timestamp >= horizon (Unix ms, a UTC midnight) is in the view. */
  horizon: number;
}

/** The user-visible size of the view. */
export interface ViewSize {
  events: number;
  /** Keys and values of the events and their index entries. */
  bytes: number;
  days: number;
}

function dayKey(day: number): Buffer {
  const k = Buffer.allocUnsafe(4);
  k.writeInt32BE(day, 0);
  return k;
}

function dayValue(s: DayStats): Buffer {
  const v = Buffer.allocUnsafe(16);
  v.writeDoubleLE(s.events, 0);
  v.writeDoubleLE(s.bytes, 8);
  return v;
}

/** Day stats of the whole view. */
export function readDays(days: Bytes): Map<number, DayStats> {
  const out = new Map<number, DayStats>();
  for (const { key, value } of days.getRange({})) {
    out.set(key.readInt32BE(0), { events: value.readDoubleLE(0), bytes: value.readDoubleLE(8) });
  }
  return out;
}

export function viewSize(days: ReadonlyMap<number, DayStats>): ViewSize {
  let events = 0;
  let bytes = 0;
  for (const d of days.values()) {
    events += d.events;
    bytes += d.bytes;
  }
  return { events, bytes, days: days.size };
}

/**
 * Queues the writes of events into the state (inside StateStore.write()). Values are copied into
 * slabs that stay alive until LMDB has written them (lmdb-js keeps a reference to each value until
 * its commit), so a round costs a few allocations, not one per event.
 */
export class ViewWriter {
  private readonly events: Bytes;
  private readonly byType: Bytes;
  private readonly byEvent: Bytes;
  private readonly daysDb: Bytes;
  private readonly keys = new KeyWriter();
  private slab = Buffer.allocUnsafeSlow(0);
  private slabAt = 0;
  private readonly typeValue = new Map<number, Buffer>();
  /** Day stats as stored, updated by every write. */
  readonly days: Map<number, DayStats>;
  private readonly touched = new Set<number>();

  constructor(private readonly state: StateStore) {
    this.events = state.db('events');
    this.byType = state.db('by_type');
    this.byEvent = state.db('by_event');
    this.daysDb = state.db('days');
    this.days = readDays(this.daysDb);
    for (const code of TYPE_CODES.values()) this.typeValue.set(code, Buffer.from([code]));
  }

  /** The JSON text as bytes in the current slab. */
  private value(json: string): Buffer {
    const max = json.length * 3;
    if (this.slab.length - this.slabAt < max) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(1 << 22, max));
      this.slabAt = 0;
    }
    const n = this.slab.write(json, this.slabAt, 'utf8');
    const v = this.slab.subarray(this.slabAt, this.slabAt + n);
    this.slabAt += n;
    return v;
  }

  /** Queues one event (inside StateStore.write()). Returns the bytes it adds to the view. */
  put(userKey: string, ts: number, id: string, type: string, event: string | null, json: string): number {
    const value = this.value(json);
    const k = this.keys;
    k.reset().name(userKey);
    const u = k.at;
    k.time(ts).id(id);
    const primary = k.view();
    void this.events.put(primary, value);
    let bytes = primary.length + value.length;
    const tail = k.buf.subarray(u, k.at);
    const code = TYPE_CODES.get(type) ?? 0;
    // Index keys are built behind the primary one in the same buffer (LMDB copies keys on put).
    const start = k.at;
    k.bytes(k.buf, 0, u).byte(code).bytes(tail);
    void this.byType.put(k.buf.subarray(start, k.at), EMPTY);
    bytes += k.at - start;
    if (event !== null && event !== '') {
      const e = k.at;
      k.bytes(k.buf, 0, u).name(event).bytes(tail);
      void this.byEvent.put(k.buf.subarray(e, k.at), this.typeValue.get(code) ?? Buffer.from([code]));
      bytes += k.at - e + 1;
    }
    const day = Math.floor(ts / DAY_MS);
    const d = this.days.get(day);
    if (d === undefined) this.days.set(day, { events: 1, bytes });
    else {
      d.events++;
      d.bytes += bytes;
    }
    this.touched.add(day);
    return bytes;
  }

  /** Queues the day stats changed since the last call (inside the same StateStore.write()). */
  flushDays(): void {
    for (const day of this.touched) {
      const d = this.days.get(day);
      if (d === undefined || d.events <= 0) void this.daysDb.remove(dayKey(day));
      else void this.daysDb.put(dayKey(day), dayValue(d));
    }
    this.touched.clear();
  }

  /**
   * Deletes every event with timestamp < `before`, `chunk` keys per transaction so the builder
   * keeps applying new events in between. Each key space is scanned once; the day stats of the
   * deleted days go in the last transaction. Returns the events deleted.
   */
  async prune(before: number, chunk: number, log: Logger): Promise<number> {
    const days = [...this.days.keys()].filter((d) => (d + 1) * DAY_MS <= before);
    let deleted = 0;
    for (const [space, db] of [
      ['events', this.events],
      ['by_type', this.byType],
      ['by_event', this.byEvent],
    ] as const) {
      let from: Buffer | undefined;
      for (;;) {
        const doomed: Buffer[] = [];
        let last: Buffer | undefined;
        let scanned = 0;
        for (const key of db.getKeys(from === undefined ? { snapshot: false } : { start: from, exclusiveStart: true, snapshot: false })) {
          const k = key as Buffer;
          last = k;
          if (eventTimeOfKey(space, k) < before) doomed.push(Buffer.from(k));
          // Bound both the transaction and the time between two of them.
          if (doomed.length >= chunk || ++scanned >= chunk * 20) break;
        }
        if (last === undefined) break;
        from = Buffer.from(last);
        if (doomed.length > 0) {
          await this.state.write(() => {
            for (const k of doomed) void db.remove(k);
          });
          if (space === 'events') deleted += doomed.length;
        } else {
          // Yield between scan chunks even when nothing was due.
          await new Promise((r) => setImmediate(r));
        }
      }
    }
    if (days.length > 0) {
      await this.state.write(() => {
        for (const day of days) {
          this.days.delete(day);
          this.touched.add(day);
        }
        this.flushDays();
      });
    }
    log.info({ before: new Date(before).toISOString(), deleted }, 'view pruned');
    return deleted;
  }

  /**
   * Deletes every event of one user (for erasure). The day stats keep counting them until their
   * day is pruned: they are a size estimate, and a user's events are a sliver of a day.
   */
  deleteUser(userKey: string): Promise<number> {
    const prefix = this.keys.reset().name(userKey).copy();
    let n = 0;
    return this.state
      .write(() => {
        for (const db of [this.events, this.byType, this.byEvent]) {
          // U is length-prefixed: every key that starts with it is this user's, and only those.
          for (const key of db.getKeys({ start: prefix })) {
            const k = key as Buffer;
            if (!startsWith(k, prefix)) break;
            void db.remove(Buffer.from(k));
            if (db === this.events) n++;
          }
        }
      })
      .then(() => n);
  }
}

function startsWith(k: Buffer, prefix: Buffer): boolean {
  return k.length >= prefix.length && k.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** The event time in a key of one of the three key spaces. */
export function eventTimeOfKey(space: 'events' | 'by_type' | 'by_event', key: Uint8Array): number {
  let at = nameLength(key, 0);
  if (space === 'by_type') at += 1;
  else if (space === 'by_event') at += nameLength(key, at);
  return readTime(key, at);
}

/** A page request as the view sees it (times in Unix ms; null: unbounded). */
export interface ViewQuery {
  userKey: string;
  from: number | null;
  to: number | null;
  type: string | null;
  event: string | null;
  cursor: { ts: number; id: string } | null;
  /** Rows wanted: the page's limit + 1 (the extra one says whether another page follows). */
  want: number;
}

export interface ViewRows {
  /** Reply JSON of each row, newest first (at most `want`). */
  json: Buffer[];
  /** Timestamp of each row. */
  ts: number[];
  /**
   * True when these rows are the whole answer: `want` rows were found, or the request's range
   * lies within the view. False: the page needs older rows than the view holds (ClickHouse's).
   */
  complete: boolean;
}

/** Range reads of the view (in any thread that attached the state). */
export class ViewReader {
  private readonly events: Bytes;
  private readonly byType: Bytes;
  private readonly byEvent: Bytes;
  private readonly keys = new KeyWriter();
  private readonly primary = new KeyWriter();

  constructor(private readonly state: StateStore) {
    this.events = state.db('events');
    this.byType = state.db('by_type');
    this.byEvent = state.db('by_event');
  }

  horizon(): number {
    return this.state.getMeta<ViewMeta>('view')?.horizon ?? TIME_END_MS;
  }

  /**
   * The newest `want` rows of a request that lie in the view, in (timestamp DESC, event_id DESC)
   * order; `horizon` is the view's lower edge, read by the caller with the same snapshot.
   */
  rows(q: ViewQuery, horizon: number): ViewRows {
    const lower = Math.max(q.from ?? TIME_BASE_MS, horizon);
    // Fewer than `want` rows in the view decide the page only when it cannot reach below it.
    const out: ViewRows = { json: [], ts: [], complete: q.from !== null && q.from >= horizon };
    if ((q.to !== null && q.to <= lower) || (q.cursor !== null && q.cursor.ts < lower)) return out;
    const k = this.keys.reset().name(q.userKey);
    const u = k.at;
    let db = this.events;
    let space: 'events' | 'by_type' | 'by_event' = 'events';
    let wantType = 0;
    if (q.event !== null) {
      db = this.byEvent;
      space = 'by_event';
      k.name(q.event);
      if (q.type !== null) wantType = TYPE_CODES.get(q.type) ?? -1;
    } else if (q.type !== null) {
      db = this.byType;
      space = 'by_type';
      k.byte(TYPE_CODES.get(q.type) ?? 0);
    }
    const p = k.at;
    // Upper bound (exclusive): the cursor's key when it is the tighter bound, else `to`.
    if (q.cursor !== null && (q.to === null || q.cursor.ts < q.to)) k.time(q.cursor.ts).id(q.cursor.id);
    else k.time(q.to ?? TIME_END_MS);
    const start = k.copy();
    k.at = p;
    k.time(lower);
    const end = k.copy();
    for (const { key, value } of db.getRange({ start, end, reverse: true, exclusiveStart: true, inclusiveEnd: true })) {
      let json: Buffer | undefined;
      if (space === 'events') {
        json = value;
      } else {
        if (wantType !== 0 && value[0] !== wantType) continue;
        // The events key is U T I: the user part, then the index key's tail from T on.
        const tail = space === 'by_type' ? u + 1 : u + nameLength(key, u);
        const pk = this.primary.reset().bytes(key, 0, u).bytes(key, tail).view();
        json = this.events.get(pk);
        if (json === undefined) continue; // deleted while we read (erasure): not an event anymore
      }
      out.json.push(json);
      out.ts.push(eventTimeOfKey(space, key));
      if (out.json.length === q.want) {
        out.complete = true;
        return out;
      }
    }
    return out;
  }
}
