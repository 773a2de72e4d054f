import { describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../common/changefeed.js';
import type { StoredRow } from '../schema/index.js';
import { UserCache, type CacheOptions } from './cache.js';
import { parseEventsRequest } from './params.js';
import type { EventRow, UserWindow } from './userwindow.js';

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const limits = { defaultLimit: 100, maxLimit: 1000 };
const req = (user: string, query = '') => parseEventsRequest(encodeURIComponent(user), query, limits);
const row = (ts: number, id: string, type = 'track', event = 'E', size = 10): EventRow => ({ ts, id, type, event, json: Buffer.alloc(size, 120) });
/** A window of n rows, newest first, ids e<n-1> .. e0. */
const win = (n: number, complete = true, size = 10): UserWindow => ({
  rows: Array.from({ length: n }, (_, i) => row(1000 - i, `e${n - 1 - i}`, i % 2 ? 'page' : 'track', 'E', size)),
  complete,
});
const make = (o: Partial<CacheOptions> = {}) => new UserCache({ maxBytes: 1 << 20, maxUsers: 1000, ttlMs: 0, maxWindowRows: 100, ...o });
/** What the cache answers, as text: the ids of the page's rows (within limit), or a kept reply. */
const ask = (c: UserCache, user: string, query = '') => {
  const r = req(user, query);
  const a = c.answer(r, query);
  return Array.isArray(a) ? a.slice(0, r.limit).map((x) => x.id).join(',') : a?.toString();
};

describe('UserCache', () => {
  it('answers every page shape that lies inside a loaded window, until the user changes', async () => {
    const c = make();
    expect(ask(c, 'u', 'limit=2')).toBeUndefined();
    await c.fill('u', async () => win(5)).promise;
    expect(ask(c, 'u', 'limit=2')).toBe('e4,e3');
    expect(ask(c, 'u', 'type=page')).toBe('e3,e1');
    expect(c.users).toBe(1);
    c.invalidate(new Set(['someone-else']));
    expect(ask(c, 'u', 'limit=2')).toBe('e4,e3');
    c.invalidate(new Set(['u']));
    expect(ask(c, 'u', 'limit=2')).toBeUndefined();
    expect(c.hasWindow('u')).toBe(false);
    expect(c.users).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('does not answer from a partial window a page that needs older rows', async () => {
    const c = make();
    await c.fill('u', async () => win(5, false)).promise;
    expect(ask(c, 'u', 'limit=3')).toBe('e4,e3,e2');
    expect(ask(c, 'u', 'limit=5')).toBeUndefined(); // needs a 6th row to know whether more follow
    expect(ask(c, 'u', 'type=page&limit=2')).toBeUndefined();
    expect(c.hasWindow('u')).toBe(true);
  });

  it('does not keep a window loaded by a query that started before an invalidation of its user', async () => {
    const c = make();
    const old = deferred<UserWindow>();
    const first = c.fill('u', () => old.promise);
    await Promise.resolve();
    c.invalidate(['u']); // the sink confirmed new rows while the query ran
    old.resolve(win(2));
    expect((await first.promise).rows).toHaveLength(2); // the waiting request still gets its answer
    expect(c.hasWindow('u')).toBe(false);
    await c.fill('u', async () => win(3)).promise;
    expect(ask(c, 'u')).toBe('e2,e1,e0');
  });

  it('shares a window load in flight, but not one that started before a change', async () => {
    const c = make();
    const d1 = deferred<UserWindow>();
    let calls = 0;
    const a = c.fill('u', () => (calls++, d1.promise));
    const b = c.fill('u', async () => (calls++, win(9)));
    expect([a.joined, b.joined]).toEqual([false, true]);
    c.invalidate(['u']);
    const d2 = deferred<UserWindow>();
    const c2 = c.fill('u', () => (calls++, d2.promise));
    expect(c2.joined).toBe(false);
    d1.resolve(win(1));
    d2.resolve(win(2));
    expect((await b.promise).rows).toHaveLength(1);
    expect((await c2.promise).rows).toHaveLength(2);
    expect(calls).toBe(2);
    expect(ask(c, 'u')).toBe('e1,e0');
  });

  it('keeps exact replies for pages beyond the window, with the same generation rule', async () => {
    const c = make();
    expect((await c.exact('u', 'k1', async () => Buffer.from('deep'))).toString()).toBe('deep');
    expect(c.answer(req('u'), 'k1')?.toString()).toBe('deep');
    const slow = deferred<Buffer>();
    const pending = c.exact('u', 'k2', () => slow.promise);
    c.invalidate(['u']);
    slow.resolve(Buffer.from('stale'));
    expect((await pending).toString()).toBe('stale');
    expect(c.answer(req('u'), 'k1')).toBeUndefined();
    expect(c.answer(req('u'), 'k2')).toBeUndefined();
  });

  it('keeps at most 8 exact replies per user, oldest out first', async () => {
    const c = make();
    for (let i = 0; i < 10; i++) await c.exact('u', `k${i}`, async () => Buffer.from(`v${i}`));
    expect(c.answer(req('u'), 'k0')).toBeUndefined();
    expect(c.answer(req('u'), 'k1')).toBeUndefined();
    expect(c.answer(req('u'), 'k2')?.toString()).toBe('v2');
    expect(c.answer(req('u'), 'k9')?.toString()).toBe('v9');
  });

  it('does not keep failures and cleans up after them', async () => {
    const c = make();
    await expect(c.fill('u', async () => Promise.reject(new Error('down'))).promise).rejects.toThrow('down');
    await expect(c.exact('u', 'k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(c.hasWindow('u')).toBe(false);
    expect(c.users).toBe(0);
    await c.fill('u', async () => win(1)).promise;
    expect(ask(c, 'u')).toBe('e0');
  });

  it('evicts the least recently used users to stay within its user and byte budgets', async () => {
    const evicted: number[] = [];
    const c = make({ maxUsers: 3, observer: { evicted: (n) => evicted.push(n), invalidated: () => {}, updated: () => {} } });
    for (const u of ['a', 'b', 'c']) await c.fill(u, async () => win(2)).promise;
    ask(c, 'a'); // a is now the most recent
    await c.fill('d', async () => win(2)).promise;
    expect(c.users).toBe(3);
    expect(c.hasWindow('b')).toBe(false);
    expect(c.hasWindow('a')).toBe(true);
    expect(evicted).toEqual([1]);

    const small = make({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 20; i++) await small.fill(`u${i}`, async () => win(4, true, 1500)).promise;
    expect(small.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(small.hasWindow('u19')).toBe(true);
    expect(small.hasWindow('u0')).toBe(false);
  });

  it('serves but does not keep a window larger than an eighth of the byte budget', async () => {
    const c = make({ maxBytes: 64 * 1024 });
    const w = await c.fill('u', async () => win(10, true, 1000)).promise;
    expect(w.rows).toHaveLength(10);
    expect(c.hasWindow('u')).toBe(false);
    expect(c.users).toBe(0);
  });

  it('drops data older than the TTL', async () => {
    let now = 1000;
    const c = make({ ttlMs: 50, now: () => now });
    await c.fill('u', async () => win(1)).promise;
    now += 49;
    expect(ask(c, 'u')).toBe('e0');
    now += 1;
    expect(ask(c, 'u')).toBeUndefined();
    expect(c.users).toBe(0);
  });

  it('admits a user to a window on their second miss, or when a window load is in flight', async () => {
    const c = make({ maxUsers: 2 });
    expect(c.admit('u')).toBe(false);
    expect(c.admit('u')).toBe(true);
    const d = deferred<UserWindow>();
    c.fill('v', () => d.promise);
    expect(c.admit('v')).toBe(true); // joins the load in flight
    d.resolve(win(1));
    await Promise.resolve();
    // The seen list is bounded: the oldest user is forgotten first.
    expect(c.admit('a')).toBe(false);
    expect(c.admit('b')).toBe(false);
    expect(c.admit('u')).toBe(false);
  });

  describe('apply (the sink published a batch)', () => {
    const inserted = (ts: number, id: string, type = 'track'): StoredRow => ({
      event_id: id, type, event: 'E', user_id: 'u', anonymous_id: '', timestamp: ts, received_at: ts, source: 's',
      category: '', group_id: '', name: '', previous_id: '', properties: '{}', traits: '{}', context: '{}',
    });
    const render = (r: StoredRow): EventRow => row(r.timestamp, r.event_id, r.type);
    const batch = (rows: Record<string, StoredRow[] | null>): ChangeBatch<StoredRow> => ({
      userKeys: Object.keys(rows),
      rowsOf: (k) => rows[k] ?? null,
    });
    const counts = () => {
      const seen = { updated: 0, invalidated: 0, evicted: 0 };
      return { seen, observer: { updated: (n: number) => (seen.updated += n), invalidated: (n: number) => (seen.invalidated += n), evicted: (n: number) => (seen.evicted += n) } };
    };

    it("takes a user's new rows into their window, so the next request is still a hit", async () => {
      const { seen, observer } = counts();
      const c = make({ observer });
      await c.fill('u', async () => win(3)).promise;
      const bytes = c.bytes;
      c.apply(batch({ u: [inserted(2000, 'n1'), inserted(999, 'n0', 'page')], other: [inserted(5, 'x')] }), render);
      expect(ask(c, 'u')).toBe('n1,e2,n0,e1,e0');
      expect(ask(c, 'u', 'type=page')).toBe('n0,e1');
      expect(c.bytes).toBeGreaterThan(bytes);
      expect(c.users).toBe(1);
      expect(seen).toEqual({ updated: 1, invalidated: 0, evicted: 0 });
    });

    it('drops exact replies, and the window too when the rows are unknown or cannot be rendered here', async () => {
      const { seen, observer } = counts();
      const c = make({ observer });
      for (const u of ['a', 'b', 'm']) await c.fill(u, async () => win(2, u !== 'm')).promise;
      await c.exact('m', 'deep', async () => Buffer.from('old page'));
      expect(c.answer(req('m', 'limit=5'), 'deep')?.toString()).toBe('old page');
      c.apply(batch({ a: null, b: [inserted(2000, 'n'), inserted(2001, 'odd')], m: [inserted(2000, 'n')] }), (r) => (r.event_id === 'odd' ? null : render(r)));
      expect(c.hasWindow('a')).toBe(false); // rows unknown
      expect(c.hasWindow('b')).toBe(false); // a row that could not be rendered
      expect(ask(c, 'm', 'limit=2')).toBe('n,e1');
      expect(c.answer(req('m', 'limit=5'), 'deep')).toBeUndefined(); // beyond m's partial window, and the kept reply is gone
      expect(c.users).toBe(1);
      expect(seen).toEqual({ updated: 1, invalidated: 2, evicted: 0 });
    });

    it('keeps a load that ran across batches, with their rows merged in whether or not it read them', async () => {
      const c = make();
      // The load did not see the batch (it took its snapshot before the insert landed).
      const d1 = deferred<UserWindow>();
      const first = c.fill('u', () => d1.promise);
      await Promise.resolve();
      c.apply(batch({ u: [inserted(2000, 'n1')] }), render);
      const joined = c.fill('u', async () => win(99)); // arrived after the batch: joins, gets it too
      expect(joined.joined).toBe(true);
      d1.resolve(win(2));
      expect((await first.promise).rows.map((r) => r.id)).toEqual(['n1', 'e1', 'e0']);
      expect((await joined.promise).rows.map((r) => r.id)).toEqual(['n1', 'e1', 'e0']);
      expect(ask(c, 'u')).toBe('n1,e1,e0');

      // The load saw the batch already: its rows are not taken in twice.
      const d2 = deferred<UserWindow>();
      const second = c.fill('v', () => d2.promise);
      await Promise.resolve();
      c.apply(batch({ v: [inserted(2000, 'n2')] }), render);
      d2.resolve({ rows: [row(2000, 'n2'), ...win(1).rows], complete: true });
      expect((await second.promise).rows.map((r) => r.id)).toEqual(['n2', 'e0']);
      expect(ask(c, 'v')).toBe('n2,e0');
    });

    it('does not keep a load that ran across a batch it could not take in, nor let later requests join it', async () => {
      const c = make();
      const d = deferred<UserWindow>();
      const load = c.fill('u', () => d.promise);
      await Promise.resolve();
      c.apply(batch({ u: null }), render);
      const again = c.fill('u', async () => win(3));
      expect(again.joined).toBe(false);
      d.resolve(win(1));
      expect((await load.promise).rows).toHaveLength(1); // still answers the request that waited for it
      await again.promise;
      expect(ask(c, 'u')).toBe('e2,e1,e0');
    });

    it('keeps a window within maxWindowRows and the byte budget as it grows', async () => {
      const c = make({ maxWindowRows: 4, maxBytes: 64 * 1024 });
      await c.fill('u', async () => win(3)).promise;
      c.apply(batch({ u: [1, 2, 3].map((i) => inserted(2000 + i, `n${i}`)) }), render);
      expect(ask(c, 'u', 'limit=3')).toBe('n3,n2,n1');
      expect(ask(c, 'u', 'limit=4')).toBeUndefined(); // the oldest rows were let go: partial now
      for (let i = 0; i < 20; i++) await c.fill(`v${i}`, async () => win(4, true, 1500)).promise;
      c.apply(batch({ v19: [inserted(5000, 'big')] }), (r) => row(r.timestamp, r.event_id, 'track', 'E', 1500));
      expect(c.bytes).toBeLessThanOrEqual(64 * 1024);
      expect(ask(c, 'v19', 'limit=1')).toBe('big');
    });
  });
});
