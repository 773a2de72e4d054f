// POST/GET /graphql against real chDB through graphql-request (a GraphQL client from npm): pages
// equal REST's, page for page, with the same cursors; rollups equal REST's; arguments refused as
// REST refuses them; depth and cost limits; the read key; introspection by setting; persisted
// queries over GET; and the schema the server runs equals docs/schema.graphql.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { ClientError, GraphQLClient, gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/common/metrics.js';
import type { StoredRow } from '../../src/schema/index.js';
import { events, insertRows, metricValue, READ_KEY, startHarness, type Harness, type Row } from './query-helpers.js';

const T0 = Date.UTC(2026, 7, 1);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** 23 events of carol (three sharing a timestamp), over two days and three types. */
const carol: Row[] = Array.from({ length: 23 }, (_, i) => ({
  event_id: `c-${String(i).padStart(3, '0')}`,
  user_id: 'carol',
  timestamp: i >= 20 ? T0 + 20 * H : T0 + i * 2 * H,
  type: i % 3 === 0 ? 'page' : 'track',
  ...(i % 3 === 0 ? { name: 'Home' } : { event: i % 2 ? 'Clicked' : 'Viewed', category: 'ui' }),
  properties: `{"i":${i},"nested":{"ok":true}}`,
  source: i % 2 ? 'ios' : 'web',
}));

const PAGE = gql`
  query Page($id: String!, $first: Int, $after: String, $type: EventType, $event: String, $from: String, $to: String) {
    user(id: $id) {
      events(first: $first, after: $after, type: $type, event: $event, from: $from, to: $to) {
        edges {
          cursor
          node { eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId }
        }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

interface Node {
  eventId: string;
  [k: string]: unknown;
}
interface PageResult {
  user: { events: { edges: { cursor: string; node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null; startCursor: string | null; hasPreviousPage: boolean } } };
}

/** A REST event with GraphQL's field names. */
const camel = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));

/** ClickHouse queries run so far (the count of the query API's ClickHouse timing histogram). */
async function clickhouseQueries(registry: Registry): Promise<number> {
  const m = await registry.getSingleMetric('trackhouse_query_clickhouse_duration_seconds')?.get();
  return (m?.values ?? []).filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count')).reduce((n, v) => n + v.value, 0);
}

/** Status and errors of a refused request. */
async function refusal(p: Promise<unknown>): Promise<{ status: number; errors: { message: string; extensions?: Record<string, unknown> }[] }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) return { status: err.response.status, errors: (err.response.errors ?? []) as never };
    throw err;
  }
  throw new Error('the request was not refused');
}

describe('GraphQL user.events and rollups, from ClickHouse (no view)', () => {
  let h: Harness;
  let client: GraphQLClient;
  beforeAll(async () => {
    h = await startHarness({ graphql: true });
    await insertRows(h.ch, carol);
    client = new GraphQLClient(`${h.base}/graphql`, { headers: { authorization: `Bearer ${READ_KEY}` } });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Walks every page of both APIs with the same filters and page size; they must agree page by page. */
  async function bothWalks(filters: Record<string, string>, first: number) {
    const restQuery = (cursor: string | null) => new URLSearchParams({ ...filters, limit: String(first), ...(cursor ? { cursor } : {}) }).toString();
    let after: string | null = null;
    let cursor: string | null = null;
    const seen: string[] = [];
    for (let pageNo = 0; pageNo < 50; pageNo++) {
      const rest = await h.get(events('carol', restQuery(cursor)));
      expect(rest.status).toBe(200);
      const g: PageResult = await client.request<PageResult>(PAGE, { id: 'carol', first, after, ...filters });
      const conn = g.user.events;
      expect(conn.edges.map((e) => e.node)).toEqual(rest.body.events.map(camel));
      expect(conn.pageInfo.hasNextPage).toBe(rest.body.next_cursor !== null);
      expect(conn.pageInfo.hasPreviousPage).toBe(false);
      if (rest.body.next_cursor !== null) {
        // Same cursor semantics: the page's end is REST's next_cursor, and so is the last edge's.
        expect(conn.pageInfo.endCursor).toBe(rest.body.next_cursor);
        expect(conn.edges.at(-1)!.cursor).toBe(rest.body.next_cursor);
      }
      seen.push(...conn.edges.map((e) => e.node.eventId));
      if (!conn.pageInfo.hasNextPage) return seen;
      after = conn.pageInfo.endCursor;
      cursor = rest.body.next_cursor;
    }
    throw new Error('more pages than rows');
  }

  it('pages through a user exactly as REST does, with the same cursors, under every filter', async () => {
    const all = await bothWalks({}, 4);
    expect(all).toHaveLength(23);
    expect(new Set(all).size).toBe(23);
    expect(await bothWalks({ type: 'track' }, 3)).toHaveLength(carol.filter((r) => r.type === 'track').length);
    expect(await bothWalks({ event: 'Clicked' }, 5)).toHaveLength(carol.filter((r) => r.event === 'Clicked').length);
    expect(await bothWalks({ from: iso(T0 + 10 * H), to: iso(T0 + 30 * H) }, 2)).toHaveLength(carol.filter((r) => r.timestamp >= T0 + 10 * H && r.timestamp < T0 + 30 * H).length);
  });

  it('answers integers past 2^53 in properties, traits and context digit for digit, as REST does', async () => {
    const WIDE = '12345678901234567891';
    await insertRows(h.ch, [{ event_id: 'w-1', user_id: 'wendy', timestamp: T0, properties: `{"id":${WIDE},"s":"${WIDE}"}`, traits: '{"max":18446744073709551615}', context: '{"min":-9223372036854775808}' }]);
    const rest = await fetch(`${h.base}${events('wendy')}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(await rest.text()).toContain(`"properties":{"id":${WIDE},"s":"${WIDE}"},"traits":{"max":18446744073709551615},"context":{"min":-9223372036854775808}`);
    const ask = async (query: string) =>
      (await fetch(`${h.base}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${READ_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }) })).text();
    const nodes = '{ user(id: "wendy") { events { edges { node { properties traits context } } } } }';
    expect(await ask(nodes)).toBe(
      `{"data":{"user":{"events":{"edges":[{"node":{"properties":{"id":${WIDE},"s":"${WIDE}"},"traits":{"max":18446744073709551615},"context":{"min":-9223372036854775808}}}]}}}}`,
    );
  });

  it('finds the events of a user id sent with a lone surrogate, which the ingest stores as U+FFFD, as it finds such an event name', async () => {
    // The ingest keeps "lone\ud800x" as "lone\ufffdx" (UTF-8 has no lone surrogates). GraphQL takes
    // the id as sent: the resolver put it through encodeURIComponent, which threw, and the answer
    // was "internal error" (logged as a resolver failure) instead of the user's events.
    await insertRows(h.ch, [{ event_id: 'l-1', user_id: 'lone\ufffdx', timestamp: T0, event: 'e\ufffd' }]);
    const ask = async (variables: Record<string, unknown>) => {
      const res = await fetch(`${h.base}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${READ_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query($id: String!, $event: String) { user(id: $id) { events(event: $event) { edges { node { eventId userId } } } } }', variables }),
      });
      return { status: res.status, body: (await res.json()) as { data?: PageResult | null; errors?: unknown[] } };
    };
    for (const variables of [{ id: 'lone\ud800x' }, { id: 'lone\ud800x', event: 'e\udc00' }, { id: 'lone\ufffdx', event: 'e\udc00' }]) {
      const r = await ask(variables);
      expect(r.status).toBe(200);
      expect(r.body.errors, JSON.stringify(variables)).toBeUndefined();
      expect(r.body.data!.user.events.edges.map((e) => e.node)).toEqual([{ eventId: 'l-1', userId: 'lone\ufffdx' }]);
    }
  });

  it('starts after any edge`s cursor, as REST starts after a next_cursor', async () => {
    const first: PageResult = await client.request<PageResult>(PAGE, { id: 'carol', first: 10 });
    const mid = first.user.events.edges[4]!;
    const rest = await h.get(events('carol', `limit=3&cursor=${mid.cursor}`));
    const g: PageResult = await client.request<PageResult>(PAGE, { id: 'carol', first: 3, after: mid.cursor });
    expect(g.user.events.edges.map((e) => e.node.eventId)).toEqual(first.user.events.edges.slice(5, 8).map((e) => e.node.eventId));
    expect(g.user.events.edges.map((e) => e.node)).toEqual(rest.body.events.map(camel));
  });

  it('answers rollups with REST`s rows', async () => {
    for (const by of ['event', 'category', 'group'] as const) {
      const rest = await h.get(`/v1/rollups/daily?by=${by}&from=2026-08-01&to=2026-08-03`);
      const g = await client.request<{ rollups: unknown[] }>(gql`query R($by: RollupDimension!) { rollups(by: $by, from: "2026-08-01", to: "2026-08-03") { day key type events users } }`, { by });
      expect(g.rollups).toEqual(rest.body.rows.map((r: Record<string, unknown>) => ({ type: null, ...r })));
      if (by === 'event') expect(g.rollups.length).toBeGreaterThan(0);
    }
  });
});

describe('GraphQL: refusals, limits, introspection, persisted queries', () => {
  let h: Harness;
  let client: GraphQLClient;
  const post = (body: unknown, key: string | null = READ_KEY) =>
    fetch(`${h.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });
  beforeAll(async () => {
    h = await startHarness({ graphql: true, env: { GRAPHQL_MAX_COST: '500', GRAPHQL_MAX_DEPTH: '15', GRAPHQL_INTROSPECTION: 'on' } });
    await insertRows(h.ch, carol);
    client = new GraphQLClient(`${h.base}/graphql`, { headers: { authorization: `Bearer ${READ_KEY}` } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('needs the read key: 401 with the bearer challenge, as REST', async () => {
    for (const key of [null, 'wrong-key']) {
      const r = await post({ query: '{ user(id: "carol") { id } }' }, key);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await r.json()) as { error: string }).error).toBe('unauthorized');
    }
    const get = await fetch(`${h.base}/graphql?query=${encodeURIComponent('{ user(id: "carol") { id } }')}`);
    expect(get.status).toBe(401);
  });

  it('refuses bad arguments as REST does, naming the argument, with REST`s code', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ first: 0 }, 'first'],
      [{ first: -1 }, 'first'],
      [{ after: 'not-a-cursor' }, 'after'],
      [{ from: '2026-08-01T00:00:00' }, 'from'],
      [{ from: '2026-08-02', to: '2026-08-01' }, 'from'],
    ];
    for (const [vars, argument] of cases) {
      const r = await refusal(client.request(PAGE, { id: 'carol', ...vars }));
      expect(r.status, JSON.stringify(vars)).toBe(200);
      expect(r.errors[0]!.extensions, JSON.stringify(vars)).toMatchObject({ code: 'invalid_parameter', argument });
      expect(r.errors[0]!.message.startsWith(argument)).toBe(true);
    }
    // A cursor of another user's page is refused too, as REST refuses it.
    const other: PageResult = await client.request<PageResult>(PAGE, { id: 'carol', first: 1 });
    const foreign = await refusal(client.request(PAGE, { id: 'dave', after: other.user.events.pageInfo.endCursor }));
    expect(foreign.errors[0]!.extensions).toMatchObject({ code: 'invalid_parameter', argument: 'after' });
    expect(foreign.errors[0]!.message).toMatch(/another user/);
  });

  it('refuses a query over the cost limit with a GraphQL error, not a 500, before reading anything', async () => {
    const before = await clickhouseQueries(h.registry);
    // 1 + 11 + 300 x 2 = 612 > 500
    const r = await refusal(client.request(gql`{ user(id: "carol") { events(first: 300) { edges { node { eventId } } } } }`));
    expect(r.status).toBe(400);
    expect(r.errors[0]!.message).toBe('the query costs 612; the limit is 500 (GRAPHQL_MAX_COST): ask for fewer events (first) or fewer fields');
    expect(r.errors[0]!.extensions).toMatchObject({ code: 'cost_limit', cost: 612, limit: 500 });
    // The same document with a variable within the limit runs.
    const ok = await client.request<PageResult>(gql`query($n: Int) { user(id: "carol") { events(first: $n) { edges { node { eventId } } } } }`, { n: 200 });
    expect(ok.user.events.edges).toHaveLength(23);
    const over = await refusal(client.request(gql`query($n: Int) { user(id: "carol") { events(first: $n) { edges { node { eventId } } } } }`, { n: 300 }));
    expect(over.errors[0]!.extensions).toMatchObject({ code: 'cost_limit' });
    // Aliases add up: 25 users of 10 events each cost 25 x 32.
    const many = Array.from({ length: 25 }, (_, i) => `u${i}: user(id: "u${i}") { events(first: 10) { edges { node { eventId } } } }`).join(' ');
    expect((await refusal(client.request(`{ ${many} }`))).errors[0]!.extensions).toMatchObject({ code: 'cost_limit', cost: 800 });
    // Only the one page within the limit read ClickHouse.
    expect(await clickhouseQueries(h.registry)).toBe(before + 1);
  });

  it('refuses a query nested deeper than the limit with a GraphQL error', async () => {
    let q = 'name';
    for (let i = 0; i < 12; i++) q = `ofType { ${q} }`;
    const r = await refusal(client.request(`{ __type(name: "User") { fields { type { ${q} } } } }`));
    expect(r.status).toBe(400);
    // __type, fields, type, 12 x ofType, name
    expect(r.errors[0]!.extensions).toMatchObject({ code: 'depth_limit', depth: 16, limit: 15 });
    expect(r.errors[0]!.message).toBe('the operation is nested 16 fields deep; the limit is 15 (GRAPHQL_MAX_DEPTH)');
  });

  it('refuses fragments that spread into 2^40 fields with a GraphQL error, and goes on answering', async () => {
    // 2 KB of text; measured field by field it would hold the query port's thread for good.
    let fragments = 'fragment F0 on Query { __typename }\n';
    for (let i = 1; i <= 40; i++) fragments += `fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }\n`;
    const r = await refusal(client.request(`query Bomb { ...F40 }\n${fragments}`));
    expect(r.status).toBe(400);
    expect(r.errors[0]!.extensions).toMatchObject({ code: 'fields_limit', fields: 2 ** 40, limit: 20_000 });
    const ok = await client.request<{ __typename: string }>('{ __typename }');
    expect(ok.__typename).toBe('Query');
  });

  it('serves the schema of docs/schema.graphql (introspection on by setting)', async () => {
    const result = await client.request<IntrospectionQuery>(getIntrospectionQuery());
    const served = printSchema(buildClientSchema(result));
    const documented = printSchema(buildSchema(readFileSync(new URL('../../docs/schema.graphql', import.meta.url), 'utf8')));
    expect(served).toBe(documented);
  });

  it('answers GET with a query, and GET with only a persisted query`s hash once the server has seen its text', async () => {
    const query = 'query One($id: String!) { user(id: $id) { events(first: 1) { edges { node { eventId } } } } }';
    const hash = createHash('sha256').update(query).digest('hex');
    const headers = { authorization: `Bearer ${READ_KEY}` };
    const ext = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }));
    const vars = encodeURIComponent(JSON.stringify({ id: 'carol' }));
    const unknown = await fetch(`${h.base}/graphql?extensions=${ext}&variables=${vars}`, { headers });
    expect(((await unknown.json()) as any).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const byText = await fetch(`${h.base}/graphql?query=${encodeURIComponent(query)}&variables=${vars}`, { headers });
    expect(byText.status).toBe(200);
    const want = ((await byText.json()) as any).data;
    expect(want.user.events.edges).toEqual([{ node: { eventId: 'c-019' } }]);
    const byHash = await fetch(`${h.base}/graphql?extensions=${ext}&variables=${vars}`, { headers });
    expect(byHash.status).toBe(200);
    expect(byHash.headers.get('cache-control')).toBe('no-store');
    expect(((await byHash.json()) as any).data).toEqual(want);
    // Malformed percent-encoding is refused, as REST refuses it, not looked up as it is (`%zz`).
    const query2 = encodeURIComponent('{ user(id: "x") { id } }');
    for (const bad of [`query=${query2}&variables=%7B%22id%22%3A%22%zz%22%7D`, `query=%E0${query2}`, `q%zz=1&query=${query2}`]) {
      const refused = await fetch(`${h.base}/graphql?${bad}`, { headers });
      expect(refused.status, bad).toBe(400);
      expect(((await refused.json()) as any).errors[0].message, bad).toMatch(/is not valid percent-encoded UTF-8/);
    }
    // GraphQL over HTTP: no mutation over GET, other methods 405 naming GET, HEAD and POST (and OPTIONS, the port's CORS preflight).
    const put = await fetch(`${h.base}/graphql`, { method: 'PUT', headers });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('answers malformed requests with 4xx GraphQL errors, and a body over the bound with 413', async () => {
    const syntax = await post({ query: '{ user(id: "carol") { ' });
    expect(syntax.status).toBe(400);
    expect(((await syntax.json()) as any).errors[0].message).toMatch(/Syntax Error/);
    const unknownField = await post({ query: '{ user(id: "carol") { password } }' });
    expect(unknownField.status).toBe(400);
    const notJson = await fetch(`${h.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${READ_KEY}` }, body: '{' });
    expect(notJson.status).toBe(400);
    const big = await post({ query: `{ user(id: "${'x'.repeat(300 * 1024)}") { id } }` });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error).toBe('body_too_large');
    // Volume and alerts need the stream component, which this server does not host.
    const vol = await refusal(client.request('{ volume { caughtUp } }'));
    expect(vol.errors[0]!.extensions).toMatchObject({ code: 'stream_unavailable', retriable: true });
    expect(await metricValue(h.registry, 'trackhouse_query_requests_total', { route: 'graphql', status: '413' })).toBe(0);
    expect(await metricValue(h.registry, 'trackhouse_query_requests_total', { route: 'graphql', status: '400' })).toBeGreaterThanOrEqual(3);
  });
});

describe('GraphQL introspection off', () => {
  it('refuses introspection with GRAPHQL_INTROSPECTION=off and still answers queries', async () => {
    const h = await startHarness({ graphql: true, env: { GRAPHQL_INTROSPECTION: 'off' } });
    try {
      const client = new GraphQLClient(`${h.base}/graphql`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      const r = await refusal(client.request(getIntrospectionQuery()));
      expect(r.status).toBe(400);
      expect(r.errors[0]!.message).toMatch(/introspection/i);
      expect(await client.request('{ user(id: "nobody") { events { edges { cursor } } } }')).toEqual({ user: { events: { edges: [] } } });
    } finally {
      await h.close();
    }
  });
});

describe('GraphQL and a graceful stop', () => {
  it('answers a GraphQL request in flight at stop() with 200 before the port closes', async () => {
    const h = await startHarness({ graphql: true });
    try {
      await insertRows(h.ch, carol);
      // chDB runs parameterized queries one at a time: this one holds the engine for a second, so
      // the GraphQL page below (read from ClickHouse: no view here) is in flight when stop() begins.
      const blocker = h.ch.client.query({ query: 'SELECT sleep(1), {x:UInt8} AS x', query_params: { x: 1 }, format: 'JSONEachRow' });
      const inflight = fetch(`${h.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${READ_KEY}` },
        body: JSON.stringify({ query: '{ user(id: "carol") { events(first: 3) { edges { node { eventId } } } } }' }),
      });
      while ((await metricValue(h.registry, 'trackhouse_query_clickhouse_queries')) === 0) await new Promise((r) => setTimeout(r, 5));
      const stopped = h.server.stop();
      const r = await inflight;
      expect(r.status).toBe(200);
      expect(((await r.json()) as { data: PageResult }).data.user.events.edges.map((e) => e.node.eventId)).toEqual(['c-019', 'c-018', 'c-017']);
      await stopped;
      await blocker;
      await expect(fetch(`${h.base}/healthz`)).rejects.toThrow();
    } finally {
      await h.close();
    }
  });
});
