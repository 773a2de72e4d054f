// GET /v1/users/{userId}/events against real chDB: filters, order, pages, auth, validation,
// hostile input, and a graceful stop with a query in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, insertRows, metricValue, READ_KEY, startHarness, type Harness, type Row } from './query-helpers.js';

const T0 = Date.UTC(2026, 7, 1);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Alice: 30 events an hour apart of every type, three sharing one timestamp, plus 2 from before she signed in. */
const alice: Row[] = Array.from({ length: 30 }, (_, i) => {
  const kinds = [
    { type: 'track', event: 'Signed In' },
    { type: 'track', event: 'Order Completed', category: 'Books', properties: `{"order_id":"o-${i}","total":${i}.5,"items":[1,2]}` },
    { type: 'page', name: 'Home', properties: '{"path":"/"}' },
    { type: 'identify', traits: '{"email":"alice@example.com"}' },
    { type: 'group', group_id: 'org-1', traits: '{"name":"Org"}' },
  ] as const;
  const k = kinds[i % kinds.length]!;
  return {
    event_id: `a-${String(i).padStart(3, '0')}`,
    user_id: 'alice',
    anonymous_id: 'anon-a',
    timestamp: i >= 27 ? T0 + 27 * H : T0 + i * H, // a-027, a-028, a-029 share a timestamp
    source: i % 2 ? 'ios' : 'web',
    ...k,
  };
});
const aliceBeforeSignIn: Row[] = [
  { event_id: 'p-1', anonymous_id: 'anon-a', timestamp: T0 - 2 * H, type: 'page', name: 'Landing' },
  { event_id: 'p-2', anonymous_id: 'anon-a', timestamp: T0 - H, event: 'CTA Clicked' },
];
const bob: Row[] = Array.from({ length: 5 }, (_, i) => ({ event_id: `b-${i}`, user_id: 'bob', timestamp: T0 + i * H }));

/** Newest first, ties by event_id descending: the order the API promises. */
const newestFirst = (rows: readonly Row[]) => [...rows].sort((x, y) => y.timestamp - x.timestamp || (x.event_id < y.event_id ? 1 : -1));
const ids = (body: { events: { event_id: string }[] }) => body.events.map((e) => e.event_id);

describe('GET /v1/users/{userId}/events', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await insertRows(h.ch, [...alice, ...aliceBeforeSignIn, ...bob]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('replies with exactly the contract shape and types', async () => {
    const r = await h.get(events('alice', `from=${iso(T0 + H)}&to=${iso(T0 + 2 * H)}`));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(r.body)).toEqual(['events', 'next_cursor']);
    expect(r.body.next_cursor).toBeNull();
    expect(r.body.events).toEqual([
      {
        event_id: 'a-001',
        type: 'track',
        event: 'Order Completed',
        user_id: 'alice',
        anonymous_id: 'anon-a',
        timestamp: '2026-08-01T01:00:00.000Z',
        received_at: '2026-08-01T01:00:00.050Z',
        source: 'ios',
        category: 'Books',
        group_id: null,
        properties: { order_id: 'o-1', total: 1.5, items: [1, 2] },
        traits: null,
        context: {},
        name: null,
        previous_id: null,
      },
    ]);
    expect(Object.keys(r.body.events[0])).toEqual([
      'event_id', 'type', 'event', 'user_id', 'anonymous_id', 'timestamp', 'received_at', 'source',
      'category', 'group_id', 'properties', 'traits', 'context', 'name', 'previous_id',
    ]);
    const page = (await h.get(events('alice', `type=page&limit=1`))).body.events[0];
    expect(page).toMatchObject({ type: 'page', event: null, name: 'Home', properties: { path: '/' } });
    const group = (await h.get(events('alice', `type=group&limit=1`))).body.events[0];
    expect(group).toMatchObject({ group_id: 'org-1', traits: { name: 'Org' }, event: null });
  });

  it('returns the newest events first, ties broken by event_id, up to the default limit of 100', async () => {
    const r = await h.get(events('alice'));
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual(newestFirst(alice).map((e) => e.event_id));
    expect(ids(r.body).slice(0, 3)).toEqual(['a-029', 'a-028', 'a-027']);
    expect(r.body.next_cursor).toBeNull();
  });

  it('honours limit', async () => {
    const r = await h.get(events('alice', 'limit=7'));
    expect(ids(r.body)).toEqual(newestFirst(alice).slice(0, 7).map((e) => e.event_id));
    expect(typeof r.body.next_cursor).toBe('string');
  });

  it('takes from as inclusive and to as exclusive, to the millisecond', async () => {
    const inRange = (a: number, b: number) => newestFirst(alice.filter((e) => e.timestamp >= a && e.timestamp < b)).map((e) => e.event_id);
    const r = await h.get(events('alice', `from=${iso(T0 + 3 * H)}&to=${iso(T0 + 8 * H)}`));
    expect(ids(r.body)).toEqual(inRange(T0 + 3 * H, T0 + 8 * H));
    expect(ids(r.body)).toEqual(['a-007', 'a-006', 'a-005', 'a-004', 'a-003']);
    // One millisecond later on both ends: a-003 drops out, a-008 comes in.
    const r2 = await h.get(events('alice', `from=${iso(T0 + 3 * H + 1)}&to=${iso(T0 + 8 * H + 1)}`));
    expect(ids(r2.body)).toEqual(['a-008', 'a-007', 'a-006', 'a-005', 'a-004']);
    // Zone offsets and dates are read as the same instants.
    const r3 = await h.get(events('alice', `from=${encodeURIComponent('2026-08-01T05:00:00+02:00')}&to=2026-08-02`));
    expect(ids(r3.body)).toEqual(inRange(T0 + 3 * H, T0 + 24 * H));
  });

  it('filters by type and by event name', async () => {
    const pages = await h.get(events('alice', 'type=page'));
    expect(ids(pages.body)).toEqual(newestFirst(alice.filter((e) => e.type === 'page')).map((e) => e.event_id));
    const orders = await h.get(events('alice', `event=${encodeURIComponent('Order Completed')}`));
    expect(ids(orders.body)).toEqual(newestFirst(alice.filter((e) => e.event === 'Order Completed')).map((e) => e.event_id));
    const both = await h.get(events('alice', `type=track&event=${encodeURIComponent('Signed In')}&from=${iso(T0 + 10 * H)}`));
    expect(ids(both.body)).toEqual(['a-025', 'a-020', 'a-015', 'a-010']);
    const none = await h.get(events('alice', 'type=alias'));
    expect(none.body).toEqual({ events: [], next_cursor: null });
  });

  it('matches the user key: anonymous events of a user not yet identified are found by anonymous_id, and users stay apart', async () => {
    const anon = await h.get(events('anon-a'));
    expect(ids(anon.body)).toEqual(['p-2', 'p-1']);
    expect(anon.body.events[0]).toMatchObject({ user_id: null, anonymous_id: 'anon-a' });
    expect(ids((await h.get(events('bob'))).body)).toEqual(['b-4', 'b-3', 'b-2', 'b-1', 'b-0']); // before b-5 is written below
    expect((await h.get(events('nobody'))).body).toEqual({ events: [], next_cursor: null });
  });

  it('pages through every event exactly once with the cursor, including ties on a timestamp', async () => {
    for (const limit of [1, 2, 4, 29, 30]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: any } = await h.get(events('alice', `limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`));
        expect(r.status).toBe(200);
        expect(r.body.events.length).toBeLessThanOrEqual(limit);
        seen.push(...ids(r.body));
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor !== null && pages < 100);
      expect(seen).toEqual(newestFirst(alice).map((e) => e.event_id));
    }
  });

  it('keeps later pages stable while events arrive: newer ones do not shift them, late ones appear where they belong', async () => {
    const carol: Row[] = Array.from({ length: 12 }, (_, i) => ({ event_id: `c-${String(i).padStart(2, '0')}`, user_id: 'carol', timestamp: T0 + i * H }));
    await insertRows(h.ch, carol);
    const first = await h.get(events('carol', 'limit=4&type=track'));
    expect(ids(first.body)).toEqual(['c-11', 'c-10', 'c-09', 'c-08']);
    // Between page requests: a newer event, a late one inside the part not read yet, one inside the part already read.
    const late = { event_id: 'c-late', user_id: 'carol', timestamp: T0 + 2 * H + 30 * 60_000 };
    await insertRows(h.ch, [
      { event_id: 'c-new', user_id: 'carol', timestamp: T0 + 100 * H },
      late,
      { event_id: 'c-late-read', user_id: 'carol', timestamp: T0 + 9 * H + 1 },
    ]);
    const rest: string[] = [];
    let cursor: string | null = first.body.next_cursor;
    while (cursor !== null) {
      const r: { body: any } = await h.get(events('carol', `limit=4&type=track&cursor=${cursor}`));
      rest.push(...ids(r.body));
      cursor = r.body.next_cursor;
    }
    expect(rest).toEqual(['c-07', 'c-06', 'c-05', 'c-04', 'c-03', 'c-late', 'c-02', 'c-01', 'c-00']);
    // A fresh first page sees everything.
    expect(ids((await h.get(events('carol', 'limit=3'))).body)).toEqual(['c-new', 'c-11', 'c-10']);
  });

  it('without a view, every page comes from ClickHouse: a row written is in the very next reply', async () => {
    expect(ids((await h.get(events('bob', 'limit=1'))).body)).toEqual(['b-4']);
    await insertRows(h.ch, [{ event_id: 'b-5', user_id: 'bob', timestamp: T0 + 5 * H }]);
    expect(ids((await h.get(events('bob', 'limit=1'))).body)).toEqual(['b-5']);
    expect(await metricValue(h.registry, 'trackhouse_query_events_answers_total', { answer: 'clickhouse' })).toBeGreaterThan(0);
  });

  it('serves an event written twice (same id and timestamp) once', async () => {
    const row: Row = { event_id: 'd-1', user_id: 'dave', timestamp: T0 };
    await insertRows(h.ch, [row, { event_id: 'd-0', user_id: 'dave', timestamp: T0 - 1 }]);
    await insertRows(h.ch, [row], { dedupe: false });
    const r = await h.get(events('dave'));
    expect(ids(r.body)).toEqual(['d-1', 'd-0']);
    const paged = await h.get(events('dave', 'limit=1'));
    expect(ids(paged.body)).toEqual(['d-1']);
    expect(ids((await h.get(events('dave', `limit=1&cursor=${paged.body.next_cursor}`))).body)).toEqual(['d-0']);
  });

  it('treats hostile ids and names as plain values: the right rows come back and nothing else happens', async () => {
    const hostile = [
      "o'brien",
      "'; DROP TABLE events; --",
      "\\'; DROP TABLE events; --",
      'back\\slash\\',
      '"double" `back` ticks',
      '{user:String}',
      "' OR '1'='1",
      '%27%20OR%201=1',
      'a/b?c#d&e=f+g',
      'tab\there\nnewline',
      'ユーザー😀 ünïcödé',
      '\u0000nul',
      'x'.repeat(3000),
      // Percent-encoded in the path and the event filter: a 30 KB request line (Node 22 and 24's
      // uWS builds answer 431 past 4 KB unless told more: src/common/uws.ts).
      'é'.repeat(2500),
    ];
    await insertRows(
      h.ch,
      hostile.map((id, i) => ({ event_id: `h-${i}`, user_id: id, timestamp: T0 + i, event: id, properties: JSON.stringify({ id }) })),
    );
    for (const [i, id] of hostile.entries()) {
      const r = await h.get(events(id));
      expect(r.status, id.slice(0, 40)).toBe(200);
      expect(r.body.events).toHaveLength(1);
      expect(r.body.events[0]).toMatchObject({ event_id: `h-${i}`, user_id: id, event: id, properties: { id } });
      const byName = await h.get(events(id, `event=${encodeURIComponent(id)}`));
      expect(ids(byName.body)).toEqual([`h-${i}`]);
      const rollup = await h.get(`/v1/rollups/daily?by=event&source=${encodeURIComponent(id)}`);
      expect(rollup.status === 200 || rollup.status === 400).toBe(true);
    }
    const count = await h.ch.client.query({ query: 'SELECT count() AS n FROM events', format: 'JSONEachRow' });
    expect(Number((await count.json<{ n: number }>())[0]!.n)).toBe(alice.length + aliceBeforeSignIn.length + bob.length + 1 + 12 + 3 + 3 + hostile.length);
  });

  it('pages through events whose ids are as long as an accepted event allows (each page\'s cursor is taken back)', async () => {
    // A messageId is bounded only by the event's 32 KB: a 5000-character id made a next_cursor of
    // 6700 characters that the next request refused as "not a cursor returned by this API".
    const long: Row[] = [5_000, 20_000, 30_000].map((n, i) => ({ event_id: `${'x'.repeat(n)}-${i}`, user_id: 'long-ids', timestamp: T0 + i * H }));
    await insertRows(h.ch, long);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; text: string; body: any } = await h.get(events('long-ids', `limit=1${cursor ? `&cursor=${cursor}` : ''}`));
      expect(r.status, r.text.slice(0, 300)).toBe(200);
      seen.push(...ids(r.body));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(newestFirst(long).map((e) => e.event_id));
  });

  it('requires a known bearer read key', async () => {
    const missing = await h.get(events('alice'), null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="trackhouse"');
    expect(missing.body).toMatchObject({ error: 'unauthorized' });
    const wrong = await h.get(events('alice'), 'not-a-key');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const basic = await fetch(`${h.base}${events('alice')}`, { headers: { authorization: `Basic ${Buffer.from(`${READ_KEY}:`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    const lower = await fetch(`${h.base}${events('alice')}`, { headers: { authorization: `bearer ${READ_KEY}` } });
    expect(lower.status).toBe(200);
    expect((await h.get('/v1/rollups/daily?by=event', null)).status).toBe(401);
    // Auth comes before validation: a stranger learns nothing about parameters.
    expect((await h.get(events('alice', 'limit=0'), null)).status).toBe(401);
  });

  it('refuses every bad parameter with a 400 naming it', async () => {
    const cases: [string, string][] = [
      [events('alice', 'sort=asc'), 'sort'],
      [events('alice', 'from=yesterday'), 'from'],
      [events('alice', 'to=2026-02-30'), 'to'],
      [events('alice', 'from=2026-08-01T00:00:00'), 'from'],
      [events('alice', 'from=2026-08-02&to=2026-08-01'), 'from'],
      [events('alice', 'from=2026-08-01&to=2026-08-01'), 'from'],
      [events('alice', 'limit=0'), 'limit'],
      [events('alice', 'limit=1001'), 'limit'],
      [events('alice', 'limit=abc'), 'limit'],
      [events('alice', 'type=click'), 'type'],
      [events('alice', 'type='), 'type'],
      [events('alice', 'limit=5&limit=6'), 'limit'],
      [events('alice', 'cursor=bogus'), 'cursor'],
      [events('alice', 'event=%E0%A4'), 'event'],
      [events('alice', 'event=50%'), 'event'],
      ['/v1/users/%E0%A4%A/events', 'userId'],
      ['/v1/rollups/daily', 'by'],
      ['/v1/rollups/daily?by=user', 'by'],
      ['/v1/rollups/daily?by=event&from=2026-08-08&to=2026-08-01', 'from'],
      ['/v1/rollups/daily?by=event&colour=red', 'colour'],
      ['/v1/rollups/daily?by=event&source=no%20spaces', 'source'],
    ];
    const otherUsersCursor = (await h.get(events('bob', 'limit=1'))).body.next_cursor as string;
    cases.push([events('alice', `limit=1&cursor=${otherUsersCursor}`), 'cursor']);
    for (const [path, parameter] of cases) {
      const r = await h.get(path);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toMatchObject({ error: 'invalid_parameter', parameter });
      expect(typeof r.body.message).toBe('string');
    }
  });

  it('serves /healthz, /readyz and /metrics, and 404/405 as JSON', async () => {
    expect((await h.get('/healthz', null)).body).toEqual({ status: 'ok' });
    const ready = await h.get('/readyz', null);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, checks: { clickhouse: 'ok' } });
    const metrics = await fetch(`${h.base}/metrics`);
    const text = await metrics.text();
    expect(text).toMatch(/trackhouse_query_requests_total\{route="events",status="200"[^}]*\} \d+/);
    expect(text).toContain('trackhouse_query_request_duration_seconds_bucket');
    expect(text).toContain('trackhouse_query_events_answers_total');
    expect((await h.get('/v1/nothing')).status).toBe(404);
    const post = await fetch(`${h.base}${events('alice')}`, { method: 'POST', headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(await metricValue(h.registry, 'trackhouse_query_requests_total', { route: 'events', status: '400' })).toBeGreaterThan(0);
  });

  it('stops gracefully: a query in flight is answered, then the port closes', async () => {
    // chDB runs parameterized queries one at a time: this one holds the engine for a second, so
    // the request below is still in flight when stop() begins.
    const blocker = h.ch.client.query({ query: 'SELECT sleep(1), {x:UInt8} AS x', query_params: { x: 1 }, format: 'JSONEachRow' });
    const inflight = h.get(events('alice', 'limit=3'));
    while ((await metricValue(h.registry, 'trackhouse_query_clickhouse_queries')) === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = h.server.stop();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual(['a-029', 'a-028', 'a-027']);
    await stopped;
    await blocker;
    await expect(fetch(`${h.base}/healthz`)).rejects.toThrow();
  });
});
