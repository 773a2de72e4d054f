// Per-user cache of the query API, never stale: per user a window of their newest rows (any page
// inside it is answered from it, see ./userwindow.ts) and a few exact replies, kept equal to what
// ClickHouse would answer by the sink's change feed (apply(): new rows merged into windows, the
// rest dropped), a generation per user against loads that race a batch, admission on a second
// miss, bounded by bytes and users (LRU). The why and the measurements of each of these:
// docs/architecture/query.md, "Cache, and why it is never stale".
import type { ChangeBatch } from '../common/changefeed.js';
import type { StoredRow } from '../schema/index.js';
import type { EventsRequest } from './params.js';
import { mergeIntoWindow, pageFromWindow, type EventRow, type UserWindow } from './userwindow.js';

export interface CacheOptions {
  maxBytes: number;
  maxUsers: number;
  /** 0 = data lives until evicted or invalidated. */
  ttlMs: number;
  /** Rows a window keeps at most when it takes in new rows (its load size, or more). */
  maxWindowRows: number;
  now?: () => number;
  observer?: CacheObserver;
}

export interface CacheObserver {
  /** Users whose data was dropped to stay within budget. */
  evicted(users: number): void;
  /** Users whose data was dropped because the sink wrote rows for them. */
  invalidated(users: number): void;
  /** Users whose window took in the rows the sink wrote for them. */
  updated(users: number): void;
}

interface Fill {
  /**
   * Rows of the batches published for the user while the load runs, rendered; null once a batch
   * could not be taken in (rows unknown or not renderable here), or once the load ended.
   */
  pending: EventRow[] | null;
  promise: Promise<UserWindow>;
}

interface Entry {
  readonly userKey: string;
  gen: number;
  window: UserWindow | null;
  windowBytes: number;
  readonly memo: Map<string, Buffer>;
  memoBytes: number;
  expires: number;
  /** Loads in flight; an entry is kept (possibly without data) while any runs. */
  inflight: number;
  fill: Fill | null;
}

/** Exact replies kept per user beside the window. */
const MEMO_PER_USER = 8;
/** Rough cost of objects and map slots beside the bytes of strings and buffers. */
const ROW_OVERHEAD = 96;
const ENTRY_OVERHEAD = 512;

/** The cached form of a batch's rows of one user, or null when any cannot be told here. */
function rendered(rows: readonly StoredRow[] | null, render: (row: StoredRow) => EventRow | null): EventRow[] | null {
  if (rows === null) return null;
  const out: EventRow[] = [];
  for (const r of rows) {
    const row = render(r);
    if (row === null) return null;
    out.push(row);
  }
  return out;
}

/** The rows of `pending` a loaded window does not hold already. */
function notIn(pending: EventRow[], w: UserWindow): EventRow[] {
  const have = new Set<string>();
  for (const r of w.rows) have.add(`${r.ts}|${r.id}`);
  return pending.filter((r) => !have.has(`${r.ts}|${r.id}`));
}

function windowBytes(w: UserWindow): number {
  let size = ENTRY_OVERHEAD;
  for (const row of w.rows) size += row.json.length + (row.id.length + row.event.length) * 2 + ROW_OVERHEAD;
  return size;
}

export class UserCache {
  /** Every entry; also the LRU order of entries with data (oldest first). */
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxEntryBytes: number;
  /** Users missed before, oldest first; bounded by maxUsers. */
  private readonly seen = new Map<string, true>();
  private totalBytes = 0;
  private withData = 0;

  constructor(private readonly opts: CacheOptions) {
    this.now = opts.now ?? Date.now;
    this.maxEntryBytes = Math.floor(opts.maxBytes / 8);
  }

  /** Users with cached data. */
  get users(): number {
    return this.withData;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * From cached data: a kept reply, or the rows of the page (for the caller to render), or
   * undefined when ClickHouse must be asked.
   */
  answer(r: EventsRequest, key: string): Buffer | EventRow[] | undefined {
    const e = this.live(r.userKey);
    if (e === undefined) return undefined;
    const memo = e.memo.get(key);
    if (memo !== undefined) {
      this.touch(e);
      return memo;
    }
    if (e.window === null) return undefined;
    const rows = pageFromWindow(e.window, r);
    if (rows === null) return undefined;
    this.touch(e);
    return rows;
  }

  /** True when the user has a window (then a miss needs rows older than it). */
  hasWindow(userKey: string): boolean {
    return this.live(userKey)?.window != null;
  }

  /**
   * Whether a miss for this user should load their window: yes if a load is in flight or the
   * user missed before; otherwise the user is remembered and the caller runs an exact query.
   */
  admit(userKey: string): boolean {
    const e = this.entries.get(userKey);
    if (e?.fill != null && e.fill.pending !== null) return true;
    if (this.seen.delete(userKey)) {
      this.seen.set(userKey, true);
      return true;
    }
    this.seen.set(userKey, true);
    if (this.seen.size > this.opts.maxUsers) this.seen.delete(this.seen.keys().next().value as string);
    return false;
  }

  /**
   * Loads the user's window, or joins a load in flight that can still be brought up to date.
   *
   * A batch published while the load runs may or may not be in what it read (ClickHouse takes its
   * snapshot some time after the load started). Its rows are kept aside and merged into the
   * result, leaving out those the load already read (same timestamp and event_id: the sink never
   * inserts one event twice, so that is the same row). So the window is kept and is current even
   * while the user writes, and requests that arrive meanwhile may join. A batch whose rows cannot
   * be taken in ends that: the result then serves only the requests that came before it, and is
   * not kept.
   */
  fill(userKey: string, load: () => Promise<UserWindow>): { promise: Promise<UserWindow>; joined: boolean } {
    const e = this.entry(userKey);
    if (e.fill !== null && e.fill.pending !== null) return { promise: e.fill.promise, joined: true };
    e.inflight++;
    const fill: Fill = { pending: [], promise: null as unknown as Promise<UserWindow> };
    // load() starts on a later microtask, so the fill is registered before anything can settle.
    fill.promise = Promise.resolve()
      .then(load)
      .then((loaded) => {
        const pending = fill.pending;
        fill.pending = null;
        if (pending === null) return loaded;
        const w = pending.length === 0 ? loaded : mergeIntoWindow(loaded, notIn(pending, loaded), this.opts.maxWindowRows);
        if (e.fill === fill) this.storeWindow(e, w);
        return w;
      })
      .finally(() => {
        fill.pending = null;
        e.inflight--;
        if (e.fill === fill) e.fill = null;
        this.dropIfUnused(e);
      });
    e.fill = fill;
    return { promise: fill.promise, joined: false };
  }

  /** Runs an exact query the window could not answer and keeps its reply, same rules as fill. */
  async exact(userKey: string, key: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const e = this.entry(userKey);
    const gen = e.gen;
    e.inflight++;
    try {
      const body = await load();
      if (e.gen === gen) this.storeMemo(e, key, body);
      return body;
    } finally {
      e.inflight--;
      this.dropIfUnused(e);
    }
  }

  /**
   * Brings the batch's users up to date: each window takes in its user's new rows (`render` makes
   * the cached form of a row, or null when it cannot); exact replies, and windows that cannot
   * take them in, are dropped. A window load in flight takes the rows in when it ends; exact
   * loads in flight will not be kept.
   */
  apply(batch: ChangeBatch<StoredRow>, render: (row: StoredRow) => EventRow | null): void {
    let updated = 0;
    let dropped = 0;
    for (const userKey of batch.userKeys) {
      const e = this.entries.get(userKey);
      if (e === undefined) continue;
      e.gen++;
      const w = e.window;
      const had = this.hasData(e);
      this.clearMemo(e);
      const fill = e.fill;
      if (w !== null || fill?.pending != null) {
        const added = rendered(batch.rowsOf(userKey), render);
        if (fill?.pending != null) {
          if (added === null) fill.pending = null;
          else fill.pending.push(...added);
        }
        if (w !== null) {
          if (added === null) this.dropWindow(e);
          else {
            this.replaceWindow(e, added.length === 0 ? w : mergeIntoWindow(w, added, this.opts.maxWindowRows));
            updated++;
          }
        }
      }
      if (had && !this.hasData(e)) {
        this.withData--;
        e.expires = 0;
        dropped++;
      }
      this.dropIfUnused(e);
    }
    if (updated > 0) this.opts.observer?.updated(updated);
    if (dropped > 0) this.opts.observer?.invalidated(dropped);
  }

  /** Forgets these users' data; loads in flight for them will not be kept. */
  invalidate(userKeys: Iterable<string>): void {
    let dropped = 0;
    for (const userKey of userKeys) {
      const e = this.entries.get(userKey);
      if (e === undefined) continue;
      e.gen++;
      if (e.fill !== null) e.fill.pending = null;
      if (this.dropData(e)) dropped++;
      this.dropIfUnused(e);
    }
    if (dropped > 0) this.opts.observer?.invalidated(dropped);
  }

  clear(): void {
    this.invalidate([...this.entries.keys()]);
    this.seen.clear();
  }

  private entry(userKey: string): Entry {
    let e = this.entries.get(userKey);
    if (e === undefined) {
      e = { userKey, gen: 0, window: null, windowBytes: 0, memo: new Map(), memoBytes: 0, expires: 0, inflight: 0, fill: null };
      this.entries.set(userKey, e);
    }
    return e;
  }

  /** The entry if it has data that has not expired. */
  private live(userKey: string): Entry | undefined {
    const e = this.entries.get(userKey);
    if (e === undefined) return undefined;
    if (e.expires !== 0 && e.expires <= this.now()) {
      this.dropData(e);
      this.dropIfUnused(e);
      return undefined;
    }
    return e;
  }

  private touch(e: Entry): void {
    this.entries.delete(e.userKey);
    this.entries.set(e.userKey, e);
  }

  private storeWindow(e: Entry, w: UserWindow): void {
    const size = windowBytes(w);
    if (size > this.maxEntryBytes) return;
    const had = this.hasData(e);
    this.totalBytes += size - e.windowBytes;
    e.window = w;
    e.windowBytes = size;
    this.stored(e, had);
  }

  /** Swaps in an updated window, keeping the budget (the entry keeps its place in the LRU order). */
  private replaceWindow(e: Entry, w: UserWindow): void {
    const size = windowBytes(w);
    if (size > this.maxEntryBytes) {
      this.dropWindow(e);
      return;
    }
    this.totalBytes += size - e.windowBytes;
    e.window = w;
    e.windowBytes = size;
    this.evictBeyondBudget(e);
  }

  private dropWindow(e: Entry): void {
    this.totalBytes -= e.windowBytes;
    e.window = null;
    e.windowBytes = 0;
  }

  private clearMemo(e: Entry): void {
    this.totalBytes -= e.memoBytes;
    e.memo.clear();
    e.memoBytes = 0;
  }

  private storeMemo(e: Entry, key: string, body: Buffer): void {
    const size = body.length + key.length * 2 + ROW_OVERHEAD;
    if (size > this.maxEntryBytes) return;
    const had = this.hasData(e);
    const old = e.memo.get(key);
    if (old !== undefined) {
      e.memo.delete(key);
      this.forgetMemo(e, key, old);
    }
    if (e.memo.size >= MEMO_PER_USER) {
      const [oldestKey, oldest] = e.memo.entries().next().value as [string, Buffer];
      e.memo.delete(oldestKey);
      this.forgetMemo(e, oldestKey, oldest);
    }
    e.memo.set(key, body);
    e.memoBytes += size;
    this.totalBytes += size;
    this.stored(e, had);
  }

  private forgetMemo(e: Entry, key: string, body: Buffer): void {
    const size = body.length + key.length * 2 + ROW_OVERHEAD;
    e.memoBytes -= size;
    this.totalBytes -= size;
  }

  private stored(e: Entry, had: boolean): void {
    if (!had) {
      this.withData++;
      if (this.opts.ttlMs > 0) e.expires = this.now() + this.opts.ttlMs;
    }
    this.touch(e);
    this.evictBeyondBudget(e);
  }

  /** Least recently used users out until within both budgets; never `keep`. */
  private evictBeyondBudget(keep: Entry): void {
    let evicted = 0;
    while (this.totalBytes > this.opts.maxBytes || this.withData > this.opts.maxUsers) {
      const victim = this.oldestWithData();
      if (victim === undefined || victim === keep) break;
      this.dropData(victim);
      this.dropIfUnused(victim);
      evicted++;
    }
    if (evicted > 0) this.opts.observer?.evicted(evicted);
  }

  private oldestWithData(): Entry | undefined {
    for (const e of this.entries.values()) if (this.hasData(e)) return e;
    return undefined;
  }

  private hasData(e: Entry): boolean {
    return e.window !== null || e.memo.size > 0;
  }

  /** Drops the entry's window and memo; true if it had any. */
  private dropData(e: Entry): boolean {
    if (!this.hasData(e)) return false;
    this.totalBytes -= e.windowBytes + e.memoBytes;
    e.window = null;
    e.windowBytes = 0;
    e.memo.clear();
    e.memoBytes = 0;
    e.expires = 0;
    this.withData--;
    return true;
  }

  private dropIfUnused(e: Entry): void {
    if (!this.hasData(e) && e.inflight === 0 && this.entries.get(e.userKey) === e) this.entries.delete(e.userKey);
  }
}
