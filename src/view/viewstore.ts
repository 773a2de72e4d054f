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
import type { DecodedRecords } from './decode.js';
import type { Bytes, StateStore } from '../state/statestore.js';
import { KeyWriter, nameLength, readTime, TIME_BASE_MS, TIME_END_MS, TYPE_CODES } from './keys.js';
import type { RangeOptions } from 'lmdb';
import { ROW_HEADER, ROW_NO_LAYOUT } from './render.js';
import { EVENT_TYPES } from '../schema/index.js';
import { keyStart, type PendingRow, type PendingRows } from './pending.js';

export const VIEW_DATABASES = ['events', 'by_type', 'by_event', 'days', 'windows', 'view_meta'] as const;
/** The meta key of the erasure list's last change the view has applied (ms). */
export const ERASED_AT_META = 'erasures/at';

export const DAY_MS = 86_400_000;
const EMPTY = Buffer.alloc(0);

/** The horizon QUERY_VIEW_DAYS asks for at `now`: that many days back, at UTC midnight. */
export function ageHorizon(days: number, now: number): number {
  return Math.floor((now - days * DAY_MS) / DAY_MS) * DAY_MS;
}

/** The settings that bound the view's window, as its state records them (meta `window`). */
export interface ViewWindow {
  days: number;
  maxBytes: number;
}

/**
 * Why a view must be rebuilt to honour a widened window, or null. The horizon only moves forward
 * (events below it were never written, or were deleted), so raising QUERY_VIEW_DAYS or
 * QUERY_VIEW_MAX_BYTES would change nothing for a view whose horizon is later than the new
 * settings allow; rebuilt, it reads them again (from Kafka, and ClickHouse beyond retention).
 */
export function widenedWindow(stored: ViewWindow | undefined, horizon: number | undefined, wanted: ViewWindow, now: number): string | null {
  if (stored === undefined || horizon === undefined || !Number.isFinite(horizon)) return null;
  const raised: string[] = [];
  if (wanted.days > stored.days) raised.push(`QUERY_VIEW_DAYS raised from ${stored.days} to ${wanted.days}`);
  if (wanted.maxBytes > stored.maxBytes) raised.push(`QUERY_VIEW_MAX_BYTES raised from ${stored.maxBytes} to ${wanted.maxBytes}`);
  const target = ageHorizon(wanted.days, now);
  if (raised.length === 0 || horizon <= target) return null;
  return (
    `${raised.join(', ')}: the view holds events from ${new Date(horizon).toISOString()} on, so ` +
    `it is rebuilt to hold them from ${new Date(target).toISOString()} (older pages come from ClickHouse meanwhile)`
  );
}

/** What one day of event time holds. */
export interface DayStats {
  events: number;
  bytes: number;
}

/**
 * The view's horizon: it holds every event with timestamp >= horizon (Unix ms, a UTC midnight);
 * older ones are ClickHouse's to answer. Absent: not set yet.
 */
export function readHorizon(meta: Bytes): number | undefined {
  const v = meta.getBinary(HORIZON_KEY);
  return v === undefined ? undefined : v.readDoubleLE(0);
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
  private readonly meta: Bytes;
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
    this.meta = state.db('view_meta');
    this.days = readDays(this.daysDb);
    for (const code of TYPE_CODES.values()) this.typeValue.set(code, Buffer.from([code]));
  }

  /** A copy of the stored event in the current slab. */
  private value(stored: Uint8Array): Buffer {
    const n = stored.length;
    if (this.slab.length - this.slabAt < n) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(1 << 22, n));
      this.slabAt = 0;
    }
    this.slab.set(stored, this.slabAt);
    const v = this.slab.subarray(this.slabAt, this.slabAt + n);
    this.slabAt += n;
    return v;
  }

  /** Queues one event, `stored` as ./render.ts storedEvent() gives it (inside StateStore.write()). Returns the bytes it adds to the view. */
  put(userKey: string, ts: number, id: string, type: string, event: string | null, stored: Uint8Array): number {
    const value = this.value(stored);
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
    this.count(ts, bytes);
    return bytes;
  }

  /**
   * Queues record k of a decoded task (./decode.ts): its keys and JSON are slices of the task's
   * slabs, which stay alive until LMDB has written them. Returns the bytes it adds.
   */
  putDecoded(d: DecodedRecords, k: number, keys: Buffer, json: Buffer): number {
    const e = d.keyEnds;
    const pk = keys.subarray(e[3 * k]!, e[3 * k + 1]!);
    const value = json.subarray(k === 0 ? 0 : d.jsonEnds[k - 1]!, d.jsonEnds[k]!);
    void this.events.put(pk, value);
    void this.byType.put(keys.subarray(e[3 * k + 1]!, e[3 * k + 2]!), EMPTY);
    if (e[3 * k + 3]! > e[3 * k + 2]!) {
      const code = d.typeCode[k]!;
      void this.byEvent.put(keys.subarray(e[3 * k + 2]!, e[3 * k + 3]!), this.typeValue.get(code) ?? Buffer.from([code]));
    }
    return this.countDecoded(d, k);
  }

  /**
   * Counts record k of a decoded task in the day stats as putDecoded() does, without the puts (a
   * bulk build writes them later: ./bulk.ts). Returns the bytes it adds.
   */
  countDecoded(d: DecodedRecords, k: number): number {
    const e = d.keyEnds;
    let bytes = e[3 * k + 2]! - e[3 * k]! + d.jsonEnds[k]! - (k === 0 ? 0 : d.jsonEnds[k - 1]!);
    if (e[3 * k + 3]! > e[3 * k + 2]!) bytes += e[3 * k + 3]! - e[3 * k + 2]! + 1;
    this.count(d.ts[k]!, bytes);
    return bytes;
  }

  private count(ts: number, bytes: number): void {
    const day = Math.floor(ts / DAY_MS);
    const s = this.days.get(day);
    if (s === undefined) this.days.set(day, { events: 1, bytes });
    else {
      s.events++;
      s.bytes += bytes;
    }
    this.touched.add(day);
  }

  /** markOlder() for the user part (`length` bytes at `start`) of a key. */
  markOlderKey(keys: Buffer, start: number, length: number): void {
    const k = this.keys.reset().byte(OLDER).bytes(keys, start, start + length).view();
    void this.meta.put(k, USER_OLDER);
  }

  /** Queues the horizon (inside StateStore.write()). */
  setHorizon(horizon: number): void {
    const v = Buffer.allocUnsafe(8);
    v.writeDoubleLE(horizon, 0);
    void this.meta.put(HORIZON_KEY, v);
  }

  /**
   * Notes that ClickHouse holds events of this user older than the horizon (inside
   * StateStore.write()): pages of users without the mark are complete from the view alone.
   */
  markOlder(userKey: string): void {
    void this.meta.put(this.keys.reset().byte(OLDER).name(userKey).view(), USER_OLDER);
  }

  /** Queues the day stats changed since the last call (inside the same StateStore.write()). */
  flushDays(): void {
    this.putDays(this.takeDays());
  }

  /** The day stats changed since the last flush or take, as they are now (copied). */
  takeDays(): Array<[number, DayStats | undefined]> {
    const out: Array<[number, DayStats | undefined]> = [];
    for (const day of this.touched) {
      const d = this.days.get(day);
      out.push([day, d === undefined ? undefined : { ...d }]);
    }
    this.touched.clear();
    return out;
  }

  /** Queues day stats that takeDays() gave (inside StateStore.write()). */
  putDays(days: ReadonlyArray<readonly [number, DayStats | undefined]>): void {
    for (const [day, d] of days) {
      if (d === undefined || d.events <= 0) void this.daysDb.remove(dayKey(day));
      else void this.daysDb.put(dayKey(day), dayValue(d));
    }
  }

  /**
   * Marks every user with an event older than `before` (as holding older events in ClickHouse),
   * `chunk` users per transaction. The first step of moving the horizon to `before`: a user must
   * be marked before the horizon passes their events, or a page of theirs would be taken as
   * complete without them.
   */
  async markUsersBelow(before: number, chunk: number): Promise<number> {
    let marked = 0;
    let from: Buffer | undefined;
    for (;;) {
      const users = new Set<string>();
      let last: Buffer | undefined;
      let scanned = 0;
      for (const key of this.events.getKeys(from === undefined ? { snapshot: false } : { start: from, exclusiveStart: true, snapshot: false })) {
        const k = key as Buffer;
        last = k;
        if (eventTimeOfKey('events', k) < before) users.add(k.toString('latin1', 0, nameLength(k, 0)));
        if (users.size >= chunk || ++scanned >= chunk * 20) break;
      }
      if (last === undefined) break;
      from = Buffer.from(last);
      if (users.size > 0) {
        await this.state.write(() => {
          for (const u of users) void this.meta.put(Buffer.concat([Buffer.from([OLDER]), Buffer.from(u, 'latin1')]), USER_OLDER);
        });
        marked += users.size;
      } else {
        await new Promise((r) => setImmediate(r));
      }
    }
    return marked;
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
        const users = new Set<string>();
        let last: Buffer | undefined;
        let scanned = 0;
        for (const key of db.getKeys(from === undefined ? { snapshot: false } : { start: from, exclusiveStart: true, snapshot: false })) {
          const k = key as Buffer;
          last = k;
          if (eventTimeOfKey(space, k) < before) {
            doomed.push(Buffer.from(k));
            if (space === 'events') users.add(k.toString('latin1', 0, nameLength(k, 0)));
          }
          // Bound both the transaction and the time between two of them.
          if (doomed.length >= chunk || ++scanned >= chunk * 20) break;
        }
        if (last === undefined) break;
        from = Buffer.from(last);
        if (doomed.length > 0) {
          await this.state.write(() => {
            for (const k of doomed) void db.remove(k);
            // Their older events are ClickHouse's now.
            for (const u of users) void this.meta.put(Buffer.concat([Buffer.from([OLDER]), Buffer.from(u, 'latin1')]), USER_OLDER);
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
}

export interface ViewRows {
  /** Rows found (at most `want`), newest first. */
  count: number;
  /**
   * True when these rows are the whole answer: `want` rows were found, or the request's range
   * cannot reach below the view (its `from` is at or above the horizon, or the user has no event
   * older than the horizon). False: the page needs older rows (ClickHouse's).
   */
  complete: boolean;
}

const PREFIX = Buffer.from('{"events":');
const OPEN = 0x5b; // [
const COMMA = 0x2c;
const ID_START = Buffer.byteLength('{"event_id":');
const AFTER_ID = Buffer.from(',"type":');
const USER_OLDER = Buffer.from([1]);
/** Whether `,"type":` ends right before `at`. */
function endsWithTypeKey(out: Buffer, at: number): boolean {
  const n = AFTER_ID.length;
  for (let i = 0; i < n; i++) if (out[at - n + i] !== AFTER_ID[i]) return false;
  return true;
}
/** Each type's value in an event's reply JSON, with the comma after it (`"track",`). */
const QUOTED_TYPES: ReadonlyMap<string, Buffer> = new Map(EVENT_TYPES.map((t) => [t, Buffer.from(`${JSON.stringify(t)},`)]));
/** How many more rows of other types than of the one asked a `type=` read skips before it takes the index (see rows()). */
const TYPE_SCAN_SLACK = 4;

/**
 * Range reads of the view, written straight into one reply buffer.
 *
 * Hot path (every page the API answers), written to allocate nothing per row and little per page:
 * - LMDB hands each value to this reader's decoder, which copies it into the reply buffer behind a
 *   comma through a plain Uint8Array view of lmdb-js's value buffer (a Buffer's subarray() runs
 *   Node's FastBuffer constructor: it was a tenth of a page's time);
 * - keys are copied into one scratch buffer by the key decoder; the keys this reader passes to
 *   LMDB (range bounds, the events key of an index entry) are KeyWriters, which its key encoder
 *   copies from their own buffers, so no key is allocated or sliced;
 * - an index entry's event is read with getBinaryFast(): lmdb-js's get() would copy it into a new
 *   buffer before the decoder copies it again;
 * - `by_type` is iterated without values (they are empty), `by_event`'s only when `type=` is asked.
 * The reply is the buffer itself: `{"events":` and the rows are in place, the first comma becomes
 * `[`, and the tail is written after the last row served.
 */
export class ViewReader {
  private events!: Bytes;
  private byType!: Bytes;
  private byEvent!: Bytes;
  private meta!: Bytes;
  private state!: StateStore;
  private readonly keys = new KeyWriter();
  /** The range's bounds and an index entry's events key, passed to LMDB as they are (see writeKey). */
  private readonly startKey = new KeyWriter();
  private readonly endKey = new KeyWriter();
  private readonly primary = new KeyWriter();
  private out = Buffer.allocUnsafeSlow(1 << 20);
  private at = PREFIX.length;
  /** The key of the row being read (copied by the key decoder). */
  private key = Buffer.allocUnsafeSlow(4096);
  private keyLength = 0;
  /** A Uint8Array over the memory of the last value buffer lmdb-js passed (see append()). */
  private source: Uint8Array = new Uint8Array(0);
  private ends = new Int32Array(1024);
  private times = new Float64Array(1024);
  /** The stored header (./render.ts ROW_HEADER) of each row read, back to back. */
  private headers = Buffer.allocUnsafeSlow(1024 * ROW_HEADER);
  private count = 0;
  /** Where the first row read from LMDB goes: PREFIX.length, or behind room left for pending rows. */
  private base = PREFIX.length;
  private readonly found: ViewRows = { count: 0, complete: false };
  /** Events applied and not committed yet (./pending.ts), merged into the pages read from LMDB. */
  private pending: PendingRows | null = null;
  /** The pending events of the current read that match it, newest first. */
  private readonly pendingRows: PendingRow[] = [];
  private readonly pendingUpper = new KeyWriter();
  private readonly pendingEvent = new KeyWriter();
  /** While merging: the T I part of each row's key read from LMDB (`savedEnds[i]` its end). */
  private saving = false;
  private saved = Buffer.allocUnsafeSlow(1 << 16);
  private savedEnds = new Int32Array(1024);
  /** While merging: the rows read from LMDB, moved aside. */
  private aside = Buffer.allocUnsafeSlow(1 << 16);
  private asideHeaders = Buffer.allocUnsafeSlow(1024 * ROW_HEADER);
  private asideEnds = new Int32Array(1024);
  private asideTimes = new Float64Array(1024);

  /** lmdb-js options for this thread's handles of the view's databases (pass to openState/attachState). */
  readonly dbOptions: Readonly<Record<string, Record<string, unknown>>>;

  constructor() {
    const keyEncoder = {
      writeKey: (key: Buffer | KeyWriter, target: Buffer, start: number) => {
        if (!(key instanceof KeyWriter)) {
          target.set(key, start);
          return start + key.length;
        }
        const n = key.at;
        // lmdb-js grows its key buffer on a RangeError, which set() throws and a loop would not.
        if (start + n > target.byteLength) throw new RangeError('key buffer too small');
        const from = key.buf;
        for (let i = 0; i < n; i++) target[start + i] = from[i]!;
        return start + n;
      },
      readKey: (source: Buffer, start: number, end: number) => {
        const n = end - start;
        if (n > this.key.length) this.key = Buffer.allocUnsafeSlow(n);
        // A loop, not copy(): keys are short, and copy() with an offset allocates a view per call.
        const key = this.key;
        for (let i = 0; i < n; i++) key[i] = source[start + i]!;
        this.keyLength = n;
        return true;
      },
    };
    const appendValue = {
      // needsStableBuffer unset: lmdb-js passes its own buffer, and this copies what it needs.
      encode: (v: Buffer) => v,
      decode: (bytes: Uint8Array) => this.append(bytes),
    };
    const firstByte = { encode: (v: Buffer) => v, decode: (bytes: Buffer) => (bytes.length > 0 ? bytes[0]! : 0) };
    // keyEncoding unset: lmdb-js prefers its own binary key reader over a keyEncoder.
    this.dbOptions = {
      events: { keyEncoding: undefined, keyEncoder, encoder: appendValue },
      by_type: { keyEncoding: undefined, keyEncoder, encoder: firstByte },
      by_event: { keyEncoding: undefined, keyEncoder, encoder: firstByte },
    };
  }

  /** `pending`: the events the builder applied and has not committed yet, served with LMDB's. */
  attach(state: StateStore, pending?: PendingRows): this {
    this.state = state;
    this.pending = pending ?? null;
    this.events = state.db('events');
    this.byType = state.db('by_type');
    this.byEvent = state.db('by_event');
    this.meta = state.db('view_meta');
    return this;
  }

  /** Appends one row (a comma, then the value less its header, which goes to `headers`); returns its length. */
  private append(bytes: Uint8Array): number {
    const h = this.headers;
    const at = this.count * ROW_HEADER;
    for (let i = 0; i < ROW_HEADER; i++) h[at + i] = bytes[i]!;
    // lmdb-js's shared value buffer reports the value's length but is larger: copy n bytes.
    const n = bytes.length - ROW_HEADER;
    this.reserve(n);
    this.out[this.at++] = COMMA;
    // The same buffer comes back for every value (until lmdb-js grows it): one view of its memory,
    // made again only when the buffer changes.
    let src = this.source;
    if (src.buffer !== bytes.buffer || src.byteOffset !== bytes.byteOffset) {
      src = this.source = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.buffer.byteLength - bytes.byteOffset);
    }
    this.out.set(src.subarray(ROW_HEADER, ROW_HEADER + n), this.at);
    this.at += n;
    return n;
  }

  horizon(): number {
    const v = this.meta.getBinaryFast(HORIZON_KEY);
    return v === undefined ? TIME_END_MS : v.readDoubleLE(0);
  }

  /** Whether ClickHouse may hold events of this user older than the horizon. */
  private hasOlder(userKey: string): boolean {
    if (this.meta.getBinaryFast(this.keys.reset().byte(OLDER).name(userKey).view()) !== undefined) return true;
    const p = this.pending;
    return p !== null && p.size > 0 && p.marked(this.keys.buf.toString('latin1', 1, this.keys.at));
  }

  /**
   * Reads the newest `want` rows of a request that lie in the view (a page's limit + 1: the extra
   * one says whether another page follows), in (timestamp DESC, event_id DESC) order, into this
   * reader's reply buffer; `horizon` is the view's lower edge, read by the caller in the same
   * synchronous turn (one LMDB snapshot). The result is this reader's, valid until the next read.
   *
   * `type=` alone first reads the user's events themselves, newest first, keeping those of that
   * type, and goes on from its index (`by_type`) only once they prove rare: a row of the events
   * range costs one cursor step, an index entry a cursor step and a lookup of its event (about
   * twice and, out of cache, four times as much), and most pages ask for the common types. The
   * index takes over when the skipped rows outnumber the kept ones by TYPE_SCAN_SLACK, so a rare
   * type costs a few rows more than the index alone, never a scan of the user's history.
   */
  rows(q: ViewQuery, want: number, horizon: number): ViewRows {
    this.at = PREFIX.length;
    this.count = 0;
    const found = this.found;
    found.count = 0;
    if (want + 1 > this.ends.length) {
      this.ends = new Int32Array(want + 1);
      this.times = new Float64Array(want + 1);
      this.headers = Buffer.allocUnsafeSlow((want + 1) * ROW_HEADER);
      this.savedEnds = new Int32Array(want + 1);
      this.asideEnds = new Int32Array(want + 1);
      this.asideTimes = new Float64Array(want + 1);
      this.asideHeaders = Buffer.allocUnsafeSlow((want + 1) * ROW_HEADER);
    }
    const lower = Math.max(q.from ?? TIME_BASE_MS, horizon);
    const bounded = q.from !== null && q.from >= horizon;
    if ((q.to !== null && q.to <= lower) || (q.cursor !== null && q.cursor.ts < lower)) {
      found.complete = bounded || !this.hasOlder(q.userKey);
      return found;
    }
    // Most users have no pending event: one map look-up, and the read as it always was.
    const pending = this.pending !== null && this.pending.size > 0 ? this.matchPending(q, lower, want) : 0;
    if (pending === 0) this.read(q, lower, want);
    else this.readWithPending(q, lower, want, pending);
    found.count = this.count;
    found.complete = this.count === want || bounded || !this.hasOlder(q.userKey);
    return found;
  }

  /** Reads the newest `want` rows of the request from LMDB, appended from `base` on (see rows()). */
  private read(q: ViewQuery, lower: number, want: number): void {
    const k = this.startKey.reset().name(q.userKey);
    const u = k.at;
    let done: boolean;
    if (q.event !== null) {
      k.name(q.event);
      const wantType = q.type === null ? 0 : (TYPE_CODES.get(q.type) ?? -1);
      done = this.readIndex(this.byEvent, q, lower, u, k.at, want, wantType);
    } else if (q.type !== null && !QUOTED_TYPES.has(q.type)) {
      // Not a type events have (the API refuses it): its index range is empty.
      done = this.readIndex(this.byType, q, lower, u, k.byte(0).at, want, 0);
    } else if (q.type !== null) {
      // The events range first (see above), then by_type below the last event read, if need be.
      this.upperBound(q, k);
      const quoted = QUOTED_TYPES.get(q.type)!;
      done = true;
      let skipped = 0;
      for (const _ of this.events.getRange(this.range(k, this.endKey.reset().part(k.buf, 0, u).time(lower), true))) {
        // The decoder appended the row behind the last one kept: keep it, or take it back.
        const rowStart = this.count === 0 ? this.base : this.ends[this.count - 1]!;
        if (this.hasType(rowStart, quoted)) {
          if (this.keep(u, want)) break;
        } else {
          this.at = rowStart;
          if (++skipped > this.count + TYPE_SCAN_SLACK) {
            done = false;
            break;
          }
        }
      }
      if (!done) {
        // by_type below the last event read: U y, then that event key's T I.
        k.reset().part(this.key, 0, u).byte(TYPE_CODES.get(q.type) ?? 0).part(this.key, u, this.keyLength);
        done = this.readIndex(this.byType, q, lower, u, u + 1, want, 0, true);
      }
    } else {
      this.upperBound(q, k);
      done = true;
      for (const _ of this.events.getRange(this.range(k, this.endKey.reset().part(k.buf, 0, u).time(lower), true))) {
        if (this.keep(u, want)) break;
      }
    }
  }

  /**
   * A read for a user with `n` pending events that match (pendingRows, newest first). Usually they
   * are newer than anything committed: then the page is they, then LMDB's newest `want - n`, so
   * LMDB's rows are read behind a gap left for them, and they are written into it (no second copy
   * of the page). Otherwise (an event whose time is older than the user's newest committed one),
   * LMDB's `want` rows are read again and the two lists merged.
   */
  private readWithPending(q: ViewQuery, lower: number, want: number, n: number): void {
    const rows = this.pendingRows;
    let gap = 0;
    for (let j = 0; j < n; j++) {
      const r = rows[j]!;
      gap += 1 + r.b.ends[3 * r.i + 2]! - r.b.ends[3 * r.i + 1]! - ROW_HEADER;
    }
    this.reserve(gap);
    this.saving = true;
    this.base = this.at = PREFIX.length + gap;
    // At least one row, even when the pending ones fill the page: LMDB's newest must be older.
    this.read(q, lower, Math.max(1, want - n));
    const c = Math.min(this.count, want - n);
    if (this.count === 0 || this.comparePending(0, rows[n - 1]!) < 0) {
      // The pending rows first: LMDB's rows move back n places in the arrays, not in the buffer.
      this.ends.copyWithin(n, 0, c);
      this.times.copyWithin(n, 0, c);
      this.headers.copyWithin(n * ROW_HEADER, 0, c * ROW_HEADER);
      // Into the gap reserved above, so append() never grows the buffer (which would drop LMDB's rows).
      this.at = PREFIX.length;
      this.count = 0;
      for (let j = 0; j < n; j++) this.appendPending(rows[j]!);
      this.count = c + n;
      this.at = this.ends[c + n - 1]!;
    } else {
      this.base = this.at = PREFIX.length;
      this.count = 0;
      this.read(q, lower, want);
      this.merge(n, want);
    }
    this.saving = false;
    this.base = PREFIX.length;
  }

  /**
   * The user's pending events that the request selects, newest first, at most `want`, into
   * pendingRows; returns how many. The same bounds as the LMDB read: below the cursor's key (or
   * `to`), at or above `lower`, of the type and event name asked.
   */
  private matchPending(q: ViewQuery, lower: number, want: number): number {
    const out = this.pendingRows;
    out.length = 0;
    const k = this.pendingUpper.reset().name(q.userKey);
    const u = k.at;
    const list = this.pending!.rowsOf(k.buf.toString('latin1', 0, u));
    if (list === undefined) return 0;
    // by_event's prefix U E: the user part as written above (a long user key is hashed once).
    const eventEnd = q.event === null ? 0 : this.pendingEvent.reset().part(k.buf, 0, u).name(q.event).at;
    this.upperBound(q, k);
    const upper = k.buf;
    const upperEnd = k.at;
    const code = q.type === null ? -1 : (TYPE_CODES.get(q.type) ?? -2);
    const event = this.pendingEvent.buf;
    for (let j = list.length - 1; j >= 0 && out.length < want; j--) {
      const r: PendingRow = list[j]!;
      const b = r.b;
      const i = r.i;
      const keyEnd = b.ends[3 * i]!;
      // The list is in key order, so in time order: below `lower`, every one before is too.
      if (b.ts[i]! < lower) break;
      if (r.buf.compare(upper, 0, upperEnd, keyStart(b, i), keyEnd) >= 0) continue;
      if (code !== -1 && b.typeCode[i] !== code) continue;
      if (eventEnd > 0) {
        // by_event key U E T I: the request's U E is its start.
        if (b.ends[3 * i + 1]! - keyEnd <= eventEnd || r.buf.compare(event, 0, eventEnd, keyEnd, keyEnd + eventEnd) !== 0) continue;
      }
      out.push(r);
    }
    return out.length;
  }

  /**
   * Merges the `n` pending rows (newest first) with the rows read from LMDB into the reply
   * buffer, newest first, at most `want`. A key in both (committed while this thread had not yet
   * heard) is served once, from the pending row: the later write, as LMDB would keep it.
   */
  private merge(n: number, want: number): void {
    const count = this.count;
    const used = this.at - PREFIX.length;
    if (this.aside.length < used) this.aside = Buffer.allocUnsafeSlow(Math.max(used, this.aside.length * 2));
    this.out.copy(this.aside, 0, PREFIX.length, this.at);
    this.headers.copy(this.asideHeaders, 0, 0, count * ROW_HEADER);
    this.asideEnds.set(this.ends.subarray(0, count));
    this.asideTimes.set(this.times.subarray(0, count));
    this.at = PREFIX.length;
    this.count = 0;
    const rows = this.pendingRows;
    let i = 0;
    let j = 0;
    while (this.count < want && (i < count || j < n)) {
      let c: number;
      if (i >= count) c = -1;
      else if (j >= n) c = 1;
      else {
        c = this.comparePending(i, rows[j]!);
      }
      if (c > 0) {
        // LMDB's row i: its comma and JSON, its header, its time.
        const from = (i === 0 ? PREFIX.length : this.asideEnds[i - 1]!) - PREFIX.length;
        const to = this.asideEnds[i]! - PREFIX.length;
        this.reserve(to - from);
        this.aside.copy(this.out, this.at, from, to);
        this.at += to - from;
        this.asideHeaders.copy(this.headers, this.count * ROW_HEADER, i * ROW_HEADER, (i + 1) * ROW_HEADER);
        this.times[this.count] = this.asideTimes[i]!;
        this.ends[this.count++] = this.at;
        i++;
      } else {
        this.appendPending(rows[j++]!);
        if (c === 0) i++;
      }
    }
  }

  /** Appends a pending event as the next row (its stored row through append(): header aside, comma and JSON). */
  private appendPending(r: PendingRow): void {
    const b = r.b;
    this.append(b.bytes.subarray(b.ends[3 * r.i + 1]!, b.ends[3 * r.i + 2]!));
    this.times[this.count] = b.ts[r.i]!;
    this.ends[this.count++] = this.at;
  }

  /** Orders LMDB's row i (its saved T I) against a pending event, by their keys' bytes: < 0 when the row is older. */
  private comparePending(i: number, r: PendingRow): number {
    const b = r.b;
    return this.saved.compare(r.buf, keyStart(b, r.i) + b.userBytes[r.i]!, b.ends[3 * r.i]!, i === 0 ? 0 : this.savedEnds[i - 1]!, this.savedEnds[i]!);
  }

  /** Room for `n` more bytes in the reply buffer. */
  private reserve(n: number): void {
    if (this.at + n + 64 <= this.out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.out.length * 2, this.at + n + 4096));
    this.out.copy(bigger, 0, 0, this.at);
    this.out = bigger;
  }

  /** Writes the range's upper bound (exclusive) behind the prefix in `k`: the cursor's key when it is the tighter bound, else `to`. */
  private upperBound(q: ViewQuery, k: KeyWriter): void {
    if (q.cursor !== null && (q.to === null || q.cursor.ts < q.to)) k.time(q.cursor.ts).id(q.cursor.id);
    else k.time(q.to ?? TIME_END_MS);
  }

  /** getRange options: from `start` (exclusive) down to `end` (inclusive), newest first. */
  private range(start: KeyWriter, end: KeyWriter, values: boolean): RangeOptions {
    return {
      // KeyWriters, copied by this reader's key encoder.
      start: start as unknown as Buffer,
      end: end as unknown as Buffer,
      reverse: true,
      exclusiveStart: true,
      inclusiveEnd: true,
      // The events' values are the rows (appended by the decoder); by_type's are empty; by_event's
      // are the type code, needed only to check `type=`. (lmdb-js reads `values`; its types omit it.)
      ...({ values } as object),
    };
  }

  /** Counts the row just appended (its key in `key`, U `u` bytes long); true when it is the `want`th. */
  private keep(tAt: number, want: number): boolean {
    if (this.saving) this.save(tAt);
    this.times[this.count] = readTime(this.key, tAt);
    this.ends[this.count++] = this.at;
    return this.count === want;
  }

  /** Keeps the T I part of the current key (from `tAt`) as row `count`'s, for merge(). */
  private save(tAt: number): void {
    const from = this.count === 0 ? 0 : this.savedEnds[this.count - 1]!;
    const n = this.keyLength - tAt;
    if (from + n > this.saved.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.saved.length * 2, from + n));
      this.saved.copy(bigger, 0, 0, from);
      this.saved = bigger;
    }
    this.key.copy(this.saved, from, tAt, this.keyLength);
    this.savedEnds[this.count] = from + n;
  }

  /** Whether the row appended at `rowStart` (its comma) has the type whose JSON value is `quoted` (with the comma after it). */
  private hasType(rowStart: number, quoted: Buffer): boolean {
    const h = this.headers;
    const hAt = this.count * ROW_HEADER;
    const out = this.out;
    // The type's offset from the header, checked against the key before it (8 bytes).
    let at = (h[hAt]! & ROW_NO_LAYOUT) === 0 ? rowStart + 1 + (h[hAt + 3]! | (h[hAt + 4]! << 8)) : 0;
    if (at < rowStart + 1 + ID_START + AFTER_ID.length || !endsWithTypeKey(out, at)) {
      // No offsets (a JSON of 64 KiB or more): the type follows the id, as in id().
      at = out.indexOf(AFTER_ID, rowStart + 1 + ID_START);
      if (at < 0 || at >= this.at) return false;
      at += AFTER_ID.length;
    }
    const n = quoted.length;
    if (at + n > this.at) return false;
    for (let i = 0; i < n; i++) if (out[at + i] !== quoted[i]) return false;
    return true;
  }

  /**
   * Reads an index (by_type or by_event) from the key in startKey (its first `p` bytes are the
   * prefix, U first: `u` bytes) down to `lower`, appending each entry's event; `wantType` (not 0):
   * only entries of that type code (by_event's values). `exclusive`: startKey is a whole key
   * already read, else the prefix, to which the upper bound is added. True when `want` rows are in.
   */
  private readIndex(db: Bytes, q: ViewQuery, lower: number, u: number, p: number, want: number, wantType: number, exclusive = false): boolean {
    const k = this.startKey;
    if (!exclusive) this.upperBound(q, k);
    // Offset of T in the index's keys.
    const tAt = p;
    const pk = this.primary;
    for (const entry of db.getRange(this.range(k, this.endKey.reset().part(k.buf, 0, p).time(lower), wantType !== 0))) {
      // The index value, through this reader's decoder: the type code (by_event).
      if (wantType !== 0 && (entry as { value: unknown }).value !== wantType) continue;
      // The events key is U T I: the user part, then the index key's tail from T on.
      pk.reset().part(this.key, 0, u).part(this.key, tAt, this.keyLength);
      const value = this.events.getBinaryFast(pk as unknown as Buffer);
      // Undefined when the event was deleted while we read (erasure).
      if (value === undefined) continue;
      this.append(value);
      if (this.keep(tAt, want)) return true;
    }
    return false;
  }

  /** Timestamp of row i of the last read. */
  time(i: number): number {
    return this.times[i]!;
  }

  /** Reply JSON of row i of the last read (a view of the reader's buffer). */
  row(i: number): Buffer {
    return this.out.subarray((i === 0 ? PREFIX.length : this.ends[i - 1]!) + 1, this.ends[i]!);
  }

  /**
   * The rows of the last read for copying values out of them (GraphQL): row i's reply JSON is
   * buffer[start(i), end(i)), its stored header (./render.ts ROW_HEADER) headers[i * ROW_HEADER, ...).
   * Past the rows a caller uses, the buffer is scratch until the next read (every read and reply()
   * writes what it needs again): GraphQL writes its answer there.
   */
  get buffer(): Buffer {
    return this.out;
  }
  get rowHeaders(): Buffer {
    return this.headers;
  }
  start(i: number): number {
    return (i === 0 ? PREFIX.length : this.ends[i - 1]!) + 1;
  }
  end(i: number): number {
    return this.ends[i]!;
  }

  /** event_id of row i of the last read: every reply object starts with it. */
  id(i: number): string {
    const row = this.row(i);
    return JSON.parse(row.toString('utf8', ID_START, row.indexOf(AFTER_ID, ID_START))) as string;
  }

  /**
   * The reply for the last read: its first `limit` rows, and `tail` (`],"next_cursor":...}`: bytes,
   * or ASCII text) behind them. A view of the reader's buffer, valid until the next read: send it at once.
   */
  reply(limit: number, tail: Buffer | string): Buffer {
    const n = Math.min(limit, this.count);
    const end = n === 0 ? PREFIX.length + 1 : this.ends[n - 1]!;
    if (end + tail.length > this.out.length) {
      const bigger = Buffer.allocUnsafeSlow(end + tail.length);
      this.out.copy(bigger, 0, 0, end);
      this.out = bigger;
    }
    PREFIX.copy(this.out, 0);
    this.out[PREFIX.length] = OPEN;
    if (typeof tail === 'string') this.out.write(tail, end, 'latin1');
    else tail.copy(this.out, end);
    return this.out.subarray(0, end + tail.length);
  }
}

/** Where meta keys of the view live in `view_meta` (binary: read on every page). */
export const HORIZON_KEY = Buffer.from('horizon');
/** Prefix of the per-user marker: ClickHouse may hold events of this user older than the horizon. */
export const OLDER = 0x01;
export { USER_OLDER };
