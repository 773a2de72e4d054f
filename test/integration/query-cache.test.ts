// The per-user cache against real chDB and a real ChangeFeed, as the all-in-one wires them: a
// cached user's new rows are visible on the very next request once the sink published them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeFeed, usersChanged } from '../../src/common/changefeed.js';
import type { StoredRow } from '../../src/schema/index.js';
import { batchOf, events, insertRows, metricValue, startHarness, type Harness, type Row } from './query-helpers.js';

const T0 = Date.UTC(2026, 7, 1);
const ids = (body: { events: { event_id: string }[] }) => body.events.map((e) => e.event_id);
const cache = (h: Harness, result: string) => metricValue(h.registry, 'trackhouse_query_cache_requests_total', { result });
/** A hang guard, not a timing assertion: the condition holds within a few ms when the code is right. */
const until = async (cond: () => Promise<boolean>) => {
  for (let i = 0; !(await cond()); i++) {
    if (i > 4000) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('query API with a change feed (same process as the sink)', () => {
  const feed = createChangeFeed<StoredRow>();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ changes: feed, env: { QUERY_CACHE_MAX_USERS: '3' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('caches replies and shows a new row on the next request once the sink publishes its user', async () => {
    expect(h.server.caching).toBe(true);
    await insertRows(h.ch, [
      { event_id: 'e-1', user_id: 'erin', timestamp: T0 },
      { event_id: 'e-2', user_id: 'erin', timestamp: T0 + 1 },
    ]);
    expect(ids((await h.get(events('erin'))).body)).toEqual(['e-2', 'e-1']);
    expect(await cache(h, 'exact')).toBe(1); // a user new to the cache: their own query, kept
    expect(ids((await h.get(events('erin'))).body)).toEqual(['e-2', 'e-1']);
    expect(await cache(h, 'hit')).toBe(1);

    // The sink confirmed a row for erin (and for someone else) and publishes the batch's users.
    await insertRows(h.ch, [
      { event_id: 'e-3', user_id: 'erin', timestamp: T0 + 2 },
      { event_id: 'x-1', user_id: 'xavier', timestamp: T0 },
    ]);
    // Control: until the feed says so, the cache cannot know (this is why there is no cache without a feed).
    expect(ids((await h.get(events('erin'))).body)).toEqual(['e-2', 'e-1']);
    feed.publish(usersChanged(['erin', 'xavier']));
    expect(ids((await h.get(events('erin'))).body)).toEqual(['e-3', 'e-2', 'e-1']);
    expect(await cache(h, 'miss')).toBe(1); // seen before: this time her window is loaded
    expect(await metricValue(h.registry, 'trackhouse_query_cache_invalidations_total')).toBe(1); // erin; xavier had nothing cached
  });

  it('answers every request shape of a user from one window load, drops it all on a change, and only for that user', async () => {
    await insertRows(h.ch, [
      { event_id: 'f-1', user_id: 'fay', timestamp: T0, type: 'page', name: 'Home' },
      { event_id: 'f-0', user_id: 'fay', timestamp: T0 - 1 },
      { event_id: 'g-1', user_id: 'gus', timestamp: T0 },
    ]);
    const [misses, hits, exacts] = [await cache(h, 'miss'), await cache(h, 'hit'), await cache(h, 'exact')];
    expect(ids((await h.get(events('fay', 'type=page'))).body)).toEqual(['f-1']); // first sight: exact
    expect(ids((await h.get(events('fay', 'limit=1'))).body)).toEqual(['f-1']); // second: window load
    expect(ids((await h.get(events('fay', 'type=track'))).body)).toEqual(['f-0']); // from the window
    await h.get(events('gus'));
    expect([await cache(h, 'miss'), await cache(h, 'hit'), await cache(h, 'exact')]).toEqual([misses + 1, hits + 1, exacts + 2]);
    await insertRows(h.ch, [{ event_id: 'f-2', user_id: 'fay', timestamp: T0 + 1, type: 'page', name: 'Cart' }]);
    feed.publish(usersChanged(['fay']));
    expect(ids((await h.get(events('fay', 'type=page'))).body)).toEqual(['f-2', 'f-1']); // one reload serves all shapes
    expect(ids((await h.get(events('fay', 'limit=1'))).body)).toEqual(['f-2']);
    expect(ids((await h.get(events('fay', 'type=track'))).body)).toEqual(['f-0']);
    expect(ids((await h.get(events('gus'))).body)).toEqual(['g-1']); // untouched
    expect([await cache(h, 'miss'), await cache(h, 'hit'), await cache(h, 'exact')]).toEqual([misses + 2, hits + 4, exacts + 2]);
  });

  it('stays within QUERY_CACHE_MAX_USERS', async () => {
    for (const u of ['u1', 'u2', 'u3', 'u4', 'u5']) await h.get(events(u));
    expect(await metricValue(h.registry, 'trackhouse_query_cache_users')).toBe(3);
    expect(await metricValue(h.registry, 'trackhouse_query_cache_evictions_total')).toBeGreaterThanOrEqual(2);
  });

  it('shares one ClickHouse query among identical requests in flight, but not with one that arrived after a change', async () => {
    await insertRows(h.ch, [{ event_id: 'h-1', user_id: 'hal', timestamp: T0 }]);
    await h.get(events('hal', 'limit=1')); // hal is now known to the cache: the next miss loads a window
    const misses = await cache(h, 'miss');
    // Hold chDB's parameterized-query lane (it runs them one at a time) so requests stay in flight.
    const blocker = h.ch.client.query({ query: 'SELECT sleep(0.5), {x:UInt8} AS x', query_params: { x: 1 }, format: 'JSONEachRow' });
    const a = h.get(events('hal'));
    await until(async () => (await cache(h, 'miss')) === misses + 1);
    const b = h.get(events('hal'));
    await until(async () => (await cache(h, 'joined')) === 1);
    // The sink writes a row for hal and publishes while a and b wait.
    await insertRows(h.ch, [{ event_id: 'h-2', user_id: 'hal', timestamp: T0 + 1 }]);
    feed.publish(usersChanged(['hal']));
    const c = h.get(events('hal'));
    await until(async () => (await cache(h, 'miss')) === misses + 2);
    expect(await cache(h, 'joined')).toBe(1); // c did not join the query started before the change
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(rb.body).toEqual(ra.body);
    expect(ids(rc.body)).toEqual(['h-2', 'h-1']);
    const hits = await cache(h, 'hit');
    expect(ids((await h.get(events('hal'))).body)).toEqual(['h-2', 'h-1']);
    expect(await cache(h, 'hit')).toBe(hits + 1);
    await blocker;
  });

  it('keeps a window whose load ran while the sink wrote for the user, with the new rows, and lets later requests join it', async () => {
    await insertRows(h.ch, [{ event_id: 'k-1', user_id: 'kim', timestamp: T0 }]);
    await h.get(events('kim', 'limit=1')); // kim is now known to the cache: the next miss loads a window
    const [misses, joined] = [await cache(h, 'miss'), await cache(h, 'joined')];
    const blocker = h.ch.client.query({ query: 'SELECT sleep(0.5), {x:UInt8} AS x', query_params: { x: 1 }, format: 'JSONEachRow' });
    const a = h.get(events('kim'));
    await until(async () => (await cache(h, 'miss')) === misses + 1);
    // The sink writes for kim while her window loads (behind the blocker, so it reads after the insert).
    const row = { event_id: 'k-2', user_id: 'kim', timestamp: T0 + 1 };
    await insertRows(h.ch, [row]);
    feed.publish(batchOf([row]));
    const b = h.get(events('kim'));
    await until(async () => (await cache(h, 'joined')) === joined + 1); // b shares a's load: it will be brought up to date
    const [ra, rb] = await Promise.all([a, b]);
    expect(ids(ra.body)).toEqual(['k-2', 'k-1']); // read by the load and announced: taken once
    expect(rb.text).toBe(ra.text);
    const hits = await cache(h, 'hit');
    expect(ids((await h.get(events('kim'))).body)).toEqual(['k-2', 'k-1']);
    expect(await cache(h, 'hit')).toBe(hits + 1); // the window was kept
    expect(await cache(h, 'miss')).toBe(misses + 1);
    await blocker;
  });

  it('answers byte for byte what ClickHouse answers, for any filters, limits and cursors, inside and beyond the window', async () => {
    // Big has more rows than the window (10): pages inside it come from memory, deeper ones from
    // ClickHouse. Ties on a timestamp, a duplicated row and non-ASCII ids included.
    const kinds = ['track', 'page', 'track', 'identify', 'track'] as const;
    const big = Array.from({ length: 40 }, (_, i) => ({
      event_id: i % 7 === 0 ? `é-${i}` : i % 11 === 0 ? `😀-${i}` : `z-${String(i).padStart(2, '0')}`,
      user_id: 'big',
      timestamp: T0 + Math.floor(i / 3) * 1000,
      type: kinds[i % kinds.length]!,
      event: kinds[i % kinds.length] === 'track' ? (i % 2 ? 'A' : 'B') : '',
    }));
    await insertRows(h.ch, [...big, ...Array.from({ length: 4 }, (_, i) => ({ event_id: `s-${i}`, user_id: 'small', timestamp: T0 + i }))]);
    await insertRows(h.ch, [big[5]!], { dedupe: false });
    const feed2 = createChangeFeed<StoredRow>();
    const cached = await h.another({ changes: feed2, env: { QUERY_CACHE_WINDOW: '10' } });
    const direct = await h.another();
    expect([cached.server.caching, direct.server.caching]).toEqual([true, false]);

    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const times = [null, T0 - 1, T0, T0 + 1000, T0 + 4500, T0 + 7000, T0 + 11_000, T0 + 12_000, T0 + 12_001, T0 + 13_000, T0 + 13_001];
    let compared = 0;
    for (let i = 0; i < 120; i++) {
      const user = rand(5) === 0 ? 'small' : 'big';
      const parts = [`limit=${1 + rand(12)}`];
      const from = times[rand(times.length)];
      const to = times[rand(times.length)];
      if (from != null) parts.push(`from=${new Date(from).toISOString()}`);
      if (to != null && (from == null || to > from)) parts.push(`to=${new Date(to).toISOString()}`);
      if (rand(3) === 0) parts.push(`type=${['track', 'page', 'identify'][rand(3)]}`);
      if (rand(4) === 0) parts.push(`event=${['A', 'B'][rand(2)]}`);
      // Walk a few pages with the cursor ClickHouse's answer gave.
      let cursor: string | null = null;
      for (let page = 0; page < 4; page++) {
        const path = events(user, [...parts, ...(cursor ? [`cursor=${cursor}`] : [])].join('&'));
        const [a, b] = await Promise.all([direct.get(path), cached.get(path)]);
        expect(a.status, path).toBe(200);
        expect(b.text, path).toBe(a.text);
        compared++;
        cursor = a.body.next_cursor;
        if (cursor === null) break;
      }
    }
    expect(compared).toBeGreaterThan(150);
    // Both paths were exercised: pages from the window, and pages beyond it.
    const outcome = (result: string) => metricValue(cached.registry, 'trackhouse_query_cache_requests_total', { result });
    expect(await outcome('hit')).toBeGreaterThan(50);
    expect(await outcome('exact')).toBeGreaterThan(10);
  });

  it('takes rows the sink wrote into cached windows, answering byte for byte what ClickHouse answers, with no reload', async () => {
    const feed3 = createChangeFeed<StoredRow>();
    const cached = await h.another({ changes: feed3, env: { QUERY_CACHE_WINDOW: '8' } });
    const direct = await h.another();
    const outcome = (result: string) => metricValue(cached.registry, 'trackhouse_query_cache_requests_total', { result });
    let n = 0;
    const row = (user: string, ts: number, extra: Partial<Row> = {}): Row => ({ event_id: `w-${n++}`, user_id: user, timestamp: ts, ...extra });
    const write = async (rows: Row[]) => {
      await insertRows(h.ch, rows);
      feed3.publish(batchOf(rows));
    };
    await write(Array.from({ length: 12 }, (_, i) => row('walt', T0 + i * 1000)));
    await write(Array.from({ length: 3 }, (_, i) => row('wren', T0 + i * 1000, { type: 'page', name: 'P' })));
    // Two misses each: the windows are loaded (walt's is partial: 12 rows, window 8).
    for (const u of ['walt', 'wren']) for (const q of ['limit=3', 'limit=4']) await cached.get(events(u, q));
    const loads = await outcome('miss');
    expect(loads).toBe(2);

    let seed = 3;
    const rand = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    const paths = (user: string) => {
      const out: string[] = [];
      for (let i = 0; i < 6; i++) {
        const q = [`limit=${1 + rand(9)}`];
        if (rand(3) === 0) q.push(`type=${['track', 'page'][rand(2)]}`);
        if (rand(4) === 0) q.push(`from=${new Date(T0 + rand(20) * 1000).toISOString()}`);
        out.push(events(user, q.join('&')));
      }
      return out;
    };
    const batches: Row[][] = [
      [row('walt', T0 + 20_000), row('wren', T0 + 500, { properties: '{"x":[1,{"y":"é\\t"}]}' })], // newest, and inside a window
      [row('walt', T0 + 20_000, { event_id: 'w-tie' }), row('walt', T0 - 5000)], // a tie on time, and one older than walt's window
      [row('wren', T0 + 1000, { type: 'identify', traits: '{"plan":"pro"}', event: '' }), row('walt', T0 + 7500, { type: 'page', event: '' })],
      Array.from({ length: 10 }, (_, i) => row('walt', T0 + 30_000 + i)), // past twice the window: the oldest are let go
    ];
    let compared = 0;
    for (const b of batches) {
      await write(b);
      for (const user of ['walt', 'wren']) {
        for (const p of paths(user)) {
          const [a, c] = await Promise.all([direct.get(p), cached.get(p)]);
          expect(a.status, p).toBe(200);
          expect(c.text, p).toBe(a.text);
          compared++;
        }
      }
    }
    expect(compared).toBe(48);
    expect(await metricValue(cached.registry, 'trackhouse_query_cache_updates_total')).toBeGreaterThanOrEqual(6);
    expect(await outcome('miss')).toBe(loads); // no window was loaded again
    expect(await outcome('hit')).toBeGreaterThan(30);
  });
});
