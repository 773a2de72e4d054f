// GET /v1/rollups/daily against real chDB: rows written to `events` reach the rollups through the
// materialized views of clickhouse/002, and the API merges them across sources and parts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, startHarness, type Harness, type Row } from './query-helpers.js';

const D1 = Date.UTC(2026, 7, 1);
const DAY = 86_400_000;
const H = 3_600_000;

const batch1: Row[] = [
  // Day 1: u1 orders from two sources (one user), u2 orders once, u2 views a page, anon-3 identifies.
  { event_id: 'e1', user_id: 'u1', timestamp: D1 + H, source: 'web', event: 'Order Completed', category: 'Books', group_id: 'g1' },
  { event_id: 'e2', user_id: 'u1', timestamp: D1 + 2 * H, source: 'web', event: 'Order Completed', category: 'Books', group_id: 'g1' },
  { event_id: 'e3', user_id: 'u1', timestamp: D1 + 3 * H, source: 'ios', event: 'Order Completed', category: 'Books', group_id: 'g1' },
  { event_id: 'e4', user_id: 'u2', timestamp: D1 + 4 * H, source: 'web', event: 'Order Completed', category: 'Toys' },
  { event_id: 'e5', user_id: 'u2', timestamp: D1 + 5 * H, source: 'web', type: 'page', name: 'Home' },
];
const batch2: Row[] = [
  { event_id: 'e6', anonymous_id: 'anon-3', timestamp: D1 + 6 * H, source: 'ios', type: 'identify', traits: '{"a":1}' },
  // Day 2, including its last millisecond; day 3 starting at its first.
  { event_id: 'e7', user_id: 'u1', timestamp: D1 + DAY + H, source: 'web', event: 'Signed In', group_id: 'g1' },
  { event_id: 'e8', anonymous_id: 'anon-3', timestamp: D1 + 2 * DAY - 1, source: 'ios', type: 'page', name: 'Home', category: 'Books' },
  { event_id: 'e9', user_id: 'u2', timestamp: D1 + 2 * DAY, source: 'web', event: 'Signed In', group_id: 'g2' },
  // Same user on web and ios on day 2 for the same event: one distinct user.
  { event_id: 'e10', user_id: 'u1', timestamp: D1 + DAY + 2 * H, source: 'ios', event: 'Signed In', group_id: 'g1' },
];

describe('GET /v1/rollups/daily', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Two inserts: rollup rows of one key sit in separate parts until merged, as in production.
    await insertRows(h.ch, batch1);
    await insertRows(h.ch, batch2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('by=event: counts and distinct users per day and event, merged across sources; non-track rows keyed by their type', async () => {
    const r = await h.get('/v1/rollups/daily?by=event');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      rows: [
        { day: '2026-08-01', type: 'identify', key: 'identify', events: 1, users: 1 },
        { day: '2026-08-01', type: 'page', key: 'page', events: 1, users: 1 },
        { day: '2026-08-01', type: 'track', key: 'Order Completed', events: 4, users: 2 },
        { day: '2026-08-02', type: 'page', key: 'page', events: 1, users: 1 },
        { day: '2026-08-02', type: 'track', key: 'Signed In', events: 2, users: 1 },
        { day: '2026-08-03', type: 'track', key: 'Signed In', events: 1, users: 1 },
      ],
    });
  });

  it('by=category and by=group leave out events without one', async () => {
    expect((await h.get('/v1/rollups/daily?by=category')).body.rows).toEqual([
      { day: '2026-08-01', key: 'Books', events: 3, users: 1 },
      { day: '2026-08-01', key: 'Toys', events: 1, users: 1 },
      { day: '2026-08-02', key: 'Books', events: 1, users: 1 },
    ]);
    expect((await h.get('/v1/rollups/daily?by=group')).body.rows).toEqual([
      { day: '2026-08-01', key: 'g1', events: 3, users: 1 },
      { day: '2026-08-02', key: 'g1', events: 2, users: 1 },
      { day: '2026-08-03', key: 'g2', events: 1, users: 1 },
    ]);
  });

  it('selects the UTC days whose midnight lies in [from, to)', async () => {
    const days = async (q: string) => [...new Set((await h.get(`/v1/rollups/daily?by=event&${q}`)).body.rows.map((x: { day: string }) => x.day))];
    expect(await days('from=2026-08-01&to=2026-08-02')).toEqual(['2026-08-01']);
    expect(await days('from=2026-08-02&to=2026-08-04')).toEqual(['2026-08-02', '2026-08-03']);
    // Day 1 started before from: out. Day 3 started before to: in.
    expect(await days('from=2026-08-01T00:00:00.001Z&to=2026-08-03T00:00:00.001Z')).toEqual(['2026-08-02', '2026-08-03']);
    expect(await days(`from=${encodeURIComponent('2026-08-02T00:00:00+02:00')}&to=2026-08-03`)).toEqual(['2026-08-02']);
    expect(await days('from=2026-08-01T06:00:00Z&to=2026-08-01T18:00:00Z')).toEqual([]);
    expect(await days('from=2026-08-03')).toEqual(['2026-08-03']);
    expect(await days('to=2026-08-02')).toEqual(['2026-08-01']);
  });

  it('filters by source', async () => {
    expect((await h.get('/v1/rollups/daily?by=event&source=ios')).body.rows).toEqual([
      { day: '2026-08-01', type: 'identify', key: 'identify', events: 1, users: 1 },
      { day: '2026-08-01', type: 'track', key: 'Order Completed', events: 1, users: 1 },
      { day: '2026-08-02', type: 'page', key: 'page', events: 1, users: 1 },
      { day: '2026-08-02', type: 'track', key: 'Signed In', events: 1, users: 1 },
    ]);
    expect((await h.get('/v1/rollups/daily?by=group&source=nosuchsource')).body).toEqual({ rows: [] });
  });

  it('keeps counting right after the parts merge', async () => {
    const before = (await h.get('/v1/rollups/daily?by=event')).body;
    for (const t of ['events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group']) {
      await h.ch.client.command({ query: `OPTIMIZE TABLE ${t} FINAL` });
    }
    expect((await h.get('/v1/rollups/daily?by=event')).body).toEqual(before);
  });

  it('answers 503 once QUERY_TIMEOUT_MS passes while the engine runs another statement, and answers again once it is free', async () => {
    const other = await h.another({ env: { QUERY_TIMEOUT_MS: '300' } });
    // A BI tool's statement holds chDB (one statement at a time) for 3 s.
    let biDone = false;
    const bi = h.ch.biClient.query({ query: 'SELECT sleep(3)', format: 'TabSeparated' }).then((rs) => {
      biDone = true;
      return rs.text();
    });
    await new Promise((r) => setTimeout(r, 100));
    const waited = await other.get('/v1/rollups/daily?by=event');
    expect([waited.status, waited.headers.get('retry-after'), biDone]).toEqual([503, '1', false]);
    expect(waited.body).toMatchObject({ error: 'clickhouse_unavailable' });
    expect(await bi).toBe('0\n');
    const again = await other.get('/v1/rollups/daily?by=event');
    expect(again.status).toBe(200);
    expect((again.body as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
  });

  it('answers 503 with Retry-After, and /readyz 503, when ClickHouse fails', async () => {
    await h.ch.close(); // every query from now on fails
    const r = await h.get('/v1/rollups/daily?by=event');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.body).toMatchObject({ error: 'clickhouse_unavailable' });
    expect((await h.get('/v1/users/u1/events')).status).toBe(503);
    const ready = await h.get('/readyz', null);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.clickhouse).not.toBe('ok');
  });
});
