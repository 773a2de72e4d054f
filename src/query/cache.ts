// Per-user cache of reply bodies that is never stale.
//
// Exactness comes from the ChangeFeed: the sink publishes the user_keys of every batch right after
// ClickHouse confirmed it, and invalidate() drops those users' entries. A reply cached for a user
// therefore always equals what ClickHouse would answer now. Without a feed (query API in another
// process than the sink) nobody could tell us about new rows, so the server does not cache.
//
// The race: a query that started before an invalidation may have read the old rows and finish
// after it; storing its result would resurrect stale data. Each user has a generation, bumped by
// every invalidation; a load remembers the generation it started under and stores its result
// only if it is unchanged. (ClickHouse takes its snapshot after the load started, so a load whose
// snapshot misses a batch always started before that batch was published.)
//
// Identical requests in flight for a user are coalesced into one ClickHouse query, again only
// while the generation is unchanged, so a joined request never gets an answer older than itself.
//
// Bounded by entry count and bytes, least recently used out first; a reply larger than 1/8 of the
// byte budget is served but not kept. A TTL (optional) bounds the life of entries in case rows
// change behind the pipeline's back (manual deletes), which no feed reports.

export interface CacheOptions {
  maxBytes: number;
  maxEntries: number;
  /** 0 = entries live until evicted or invalidated. */
  ttlMs: number;
  now?: () => number;
  observer?: CacheObserver;
}

export interface CacheObserver {
  evicted(count: number): void;
  invalidated(entries: number): void;
}

interface Entry {
  readonly slot: Slot;
  readonly id: string;
  readonly body: Buffer;
  readonly size: number;
  readonly expires: number;
}

interface Flight {
  readonly gen: number;
  readonly promise: Promise<Buffer>;
}

/** Everything the cache knows about one user; kept while it has entries or loads in flight. */
interface Slot {
  readonly userKey: string;
  gen: number;
  inflight: number;
  readonly entries: Set<string>;
  readonly flights: Map<string, Flight>;
}

/** Rough fixed cost of an entry beside its body (Map slots, objects, key strings). */
const ENTRY_OVERHEAD = 256;

export class ResponseCache {
  private readonly lru = new Map<string, Entry>();
  private readonly slots = new Map<string, Slot>();
  private readonly now: () => number;
  private readonly maxEntryBytes: number;
  private totalBytes = 0;

  constructor(private readonly opts: CacheOptions) {
    this.now = opts.now ?? Date.now;
    this.maxEntryBytes = Math.floor(opts.maxBytes / 8);
  }

  get entries(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Users with entries or loads in flight. */
  get users(): number {
    return this.slots.size;
  }

  /** The cached reply, or undefined. A hit becomes the most recently used entry. */
  get(userKey: string, key: string): Buffer | undefined {
    const id = entryId(userKey, key);
    const e = this.lru.get(id);
    if (e === undefined) return undefined;
    if (e.expires !== 0 && e.expires <= this.now()) {
      this.remove(e);
      return undefined;
    }
    this.lru.delete(id);
    this.lru.set(id, e);
    return e.body;
  }

  /**
   * Loads a reply that get() did not have: joins an identical load in flight for the same user and
   * generation, or runs `load` and keeps its result if no change for the user arrived meanwhile.
   * `joined` is true when the answer came from another request's load.
   */
  load(userKey: string, key: string, load: () => Promise<Buffer>): { promise: Promise<Buffer>; joined: boolean } {
    let slot = this.slots.get(userKey);
    if (slot === undefined) {
      slot = { userKey, gen: 0, inflight: 0, entries: new Set(), flights: new Map() };
      this.slots.set(userKey, slot);
    }
    const running = slot.flights.get(key);
    if (running !== undefined && running.gen === slot.gen) return { promise: running.promise, joined: true };

    const s = slot;
    const gen = s.gen;
    s.inflight++;
    const flight = { gen } as { gen: number; promise: Promise<Buffer> };
    // load() starts on a later microtask, so the flight is registered before anything can settle.
    flight.promise = Promise.resolve()
      .then(load)
      .then((body) => {
        if (s.gen === gen) this.store(s, key, body);
        return body;
      })
      .finally(() => {
        s.inflight--;
        if (s.flights.get(key) === flight) s.flights.delete(key);
        this.dropIfUnused(s);
      });
    s.flights.set(key, flight);
    return { promise: flight.promise, joined: false };
  }

  /** Forgets everything cached for these users; loads in flight for them will not be kept. */
  invalidate(userKeys: Iterable<string>): void {
    let dropped = 0;
    for (const userKey of userKeys) {
      const slot = this.slots.get(userKey);
      if (slot === undefined) continue;
      slot.gen++;
      for (const id of slot.entries) {
        const e = this.lru.get(id)!;
        this.lru.delete(id);
        this.totalBytes -= e.size;
        dropped++;
      }
      slot.entries.clear();
      this.dropIfUnused(slot);
    }
    if (dropped > 0) this.opts.observer?.invalidated(dropped);
  }

  clear(): void {
    this.invalidate([...this.slots.keys()]);
  }

  private store(slot: Slot, key: string, body: Buffer): void {
    const id = entryId(slot.userKey, key);
    const size = body.length + id.length * 2 + ENTRY_OVERHEAD;
    if (size > this.maxEntryBytes) return;
    const old = this.lru.get(id);
    if (old !== undefined) this.remove(old);
    const e: Entry = { slot, id, body, size, expires: this.opts.ttlMs > 0 ? this.now() + this.opts.ttlMs : 0 };
    this.lru.set(id, e);
    slot.entries.add(id);
    this.totalBytes += size;
    let evicted = 0;
    while (this.totalBytes > this.opts.maxBytes || this.lru.size > this.opts.maxEntries) {
      const oldest = this.lru.values().next().value as Entry;
      this.remove(oldest);
      evicted++;
    }
    if (evicted > 0) this.opts.observer?.evicted(evicted);
  }

  private remove(e: Entry): void {
    this.lru.delete(e.id);
    e.slot.entries.delete(e.id);
    this.totalBytes -= e.size;
    this.dropIfUnused(e.slot);
  }

  private dropIfUnused(slot: Slot): void {
    if (slot.entries.size === 0 && slot.inflight === 0 && this.slots.get(slot.userKey) === slot) {
      this.slots.delete(slot.userKey);
    }
  }
}

/** Length-prefixed so no user key and request key pair can collide with another. */
function entryId(userKey: string, key: string): string {
  return `${userKey.length}:${userKey}${key}`;
}
