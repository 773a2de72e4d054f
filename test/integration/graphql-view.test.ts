// GraphQL answered from the per-user view, against the real broker and chDB: events go to Kafka,
// the query component builds its view from the topic, and every page GraphQL gives (edges, cursors,
// page info, under every filter, page after page) equals the page REST gives from the same view;
// the view-answer metric counts GraphQL's reads. With two shards (QUERY_SHARDS=2, each its own
// `trackhouse query` process), GraphQL on the shard that does not hold a user answers what REST on
// the shard holding it answers, with the caller's key; without a key it is refused, not forwarded.
import { createServer } from 'node:net';
import { GraphQLClient, gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import type { Registry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics, partitionForKey } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { kafkaBrokers, tempDir, testConfig } from '../support/env.js';
import { metricValue } from './query-helpers.js';
import { produce, testEvent } from './sink-helpers.js';
import { allPages, DAY, queryOnView, randomEvents, randomRequests, type QueryOnView, type Request } from './view-helpers.js';
import { spawnQuery, type QueryProcess } from './view-process.js';

const KEY = 'test-read-key';

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

interface Connection {
  edges: { cursor: string; node: Record<string, unknown> }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** A REST event with GraphQL's field names. */
const camel = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));

/** A REST request's query string as the page's GraphQL variables (`limit` is `first`). */
function variablesOf(req: Request): Record<string, unknown> {
  const v: Record<string, unknown> = { id: req.user };
  for (const [k, x] of new URLSearchParams(req.query)) v[k === 'limit' ? 'first' : k] = k === 'limit' ? Number(x) : x;
  return v;
}

/**
 * Walks every page of a request through GraphQL (`after` = the previous endCursor) and compares
 * each with REST's page of the same request (REST followed by next_cursor, `rest`): the same
 * events with every field, the last edge's cursor and endCursor equal to next_cursor, hasNextPage
 * as next_cursor says. Returns the GraphQL pages read.
 */
async function sameAsRest(client: GraphQLClient, req: Request, rest: { status: number; text: string }[]): Promise<number> {
  let after: string | null = null;
  for (let i = 0; i < rest.length; i++) {
    expect(rest[i]!.status, `${req.user} ?${req.query}: ${rest[i]!.text}`).toBe(200);
    const want = JSON.parse(rest[i]!.text) as { events: Record<string, unknown>[]; next_cursor: string | null };
    const got: Connection = (await client.request<{ user: { events: Connection } }>(PAGE, { ...variablesOf(req), after })).user.events;
    const where = `${req.user} ?${req.query} page ${i + 1}`;
    expect(got.edges.map((e) => e.node), where).toEqual(want.events.map(camel));
    expect(got.pageInfo.hasNextPage, where).toBe(want.next_cursor !== null);
    expect(got.pageInfo.hasPreviousPage).toBe(false);
    if (want.next_cursor !== null) {
      expect(got.pageInfo.endCursor, where).toBe(want.next_cursor);
      expect(got.edges.at(-1)!.cursor, where).toBe(want.next_cursor);
    }
    after = got.pageInfo.endCursor;
  }
  return rest.length;
}

/** Pages answered by source so far (trackhouse_query_events_answers_total). */
async function answers(registry: Registry): Promise<Record<'view' | 'view_clickhouse' | 'clickhouse' | 'forwarded', number>> {
  const of = (answer: string) => metricValue(registry, 'trackhouse_query_events_answers_total', { answer });
  return { view: await of('view'), view_clickhouse: await of('view_clickhouse'), clickhouse: await of('clickhouse'), forwarded: await of('forwarded') };
}

describe('GraphQL from the view', () => {
  const dir = tempDir();
  let view: QueryOnView;
  let registry: Registry;
  let base = '';
  let client: GraphQLClient;
  const now = Date.now();
  const start = now - 10 * DAY;
  const end = now + DAY;
  // Random events (odd JSON texts, quotes, tabs, emoji, many in the same millisecond, resends) and
  // carol's: 23 events, three sharing a timestamp, over two days and three types.
  const data = randomEvents(31, 1500, 40, start, end);
  const carol: EventRecord[] = Array.from({ length: 23 }, (_, i) =>
    testEvent(i, {
      event_id: `c-${String(i).padStart(3, '0')}`,
      user_id: 'carol',
      timestamp: i >= 20 ? now - 3 * DAY : now - 4 * DAY + i * 7_200_000,
      type: i % 3 === 0 ? 'page' : 'track',
      event: i % 3 === 0 ? null : i % 2 ? 'Clicked' : 'Viewed',
      name: i % 3 === 0 ? 'Home' : null,
      category: i % 3 === 0 ? null : 'ui',
      source: i % 2 ? 'ios' : 'web',
    }),
  );

  beforeAll(async () => {
    view = await queryOnView(dir.path, [...data.events, ...carol]);
    ({ registry, base } = view);
    client = new GraphQLClient(`${base}/graphql`, { headers: { authorization: `Bearer ${KEY}` } });
  });
  afterAll(async () => {
    await view?.stop();
    dir.remove();
  });

  it('pages through a user exactly as REST does from the view, with the same cursors, under every filter', async () => {
    const before = await answers(registry);
    const gqlBefore = await metricValue(registry, 'trackhouse_query_requests_total', { route: 'graphql', status: '200' });
    let restPages = 0;
    let gqlPages = 0;
    const iso = (ms: number) => new Date(ms).toISOString();
    for (const query of ['limit=4', 'type=track&limit=3', 'event=Clicked&limit=5', `from=${iso(now - 4 * DAY + 10 * 7_200_000)}&to=${iso(now - 3 * DAY + 1)}&limit=2`, 'type=page&event=Clicked&limit=1']) {
      const req = { user: 'carol', query };
      const rest = await allPages(base, KEY, req);
      restPages += rest.length;
      gqlPages += await sameAsRest(client, req, rest);
    }
    // Carol's walk without filters covered all 23 events, 4 by 4.
    expect(restPages).toBeGreaterThan(15);
    // Every page of both APIs came from the view, GraphQL's counted as REST's are.
    const after = await answers(registry);
    expect(after.view - before.view).toBe(restPages + gqlPages);
    expect(after.view_clickhouse + after.clickhouse + after.forwarded).toBe(before.view_clickhouse + before.clickhouse + before.forwarded);
    expect(await metricValue(registry, 'trackhouse_query_requests_total', { route: 'graphql', status: '200' })).toBe(gqlBefore + gqlPages);
  });

  it('answers random requests over random users as REST does, page after page', async () => {
    const before = await answers(registry);
    let pages = 0;
    let withEvents = 0;
    for (const req of randomRequests(32, 80, data.users, start, end)) {
      const rest = await allPages(base, KEY, req);
      pages += await sameAsRest(client, req, rest);
      withEvents += rest.filter((p) => p.text.includes('"events":[{')).length;
    }
    expect(pages).toBeGreaterThan(100);
    expect(withEvents).toBeGreaterThan(pages / 2);
    const after = await answers(registry);
    expect(after.view - before.view).toBe(2 * pages);
    expect(after.clickhouse).toBe(before.clickhouse);
  });

  it('answers with the media type graphql-http gives, for results and for errors alike', async () => {
    const post = (accept: string | null, query: string) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...(accept === null ? {} : { accept }) },
        body: JSON.stringify({ query }),
      });
    const cases: [string | null, string][] = [
      [null, 'application/json; charset=utf-8'],
      ['application/json', 'application/json; charset=utf-8'],
      ['*/*', 'application/json; charset=utf-8'],
      ['application/graphql-response+json', 'application/graphql-response+json; charset=utf-8'],
      ['application/json, application/graphql-response+json', 'application/json; charset=utf-8'],
      ['application/graphql-response+json, application/json', 'application/graphql-response+json; charset=utf-8'],
      ['text/html, application/json;charset=utf-8', 'application/json; charset=utf-8'],
      ['*/*, application/graphql-response+json', 'application/json; charset=utf-8'],
      ['application/graphql-response+json; charset=latin1, application/*', 'application/json; charset=utf-8'],
    ];
    for (const [accept, type] of cases) {
      const ok = await post(accept, '{ user(id: "carol") { events(first: 2) { edges { node { eventId properties } } } } }');
      expect(ok.status, String(accept)).toBe(200);
      expect(ok.headers.get('content-type'), String(accept)).toBe(type);
      expect(((await ok.json()) as { data: { user: { events: { edges: unknown[] } } } }).data.user.events.edges).toHaveLength(2);
      // An error is answered by graphql-http itself: the same media type.
      const bad = await post(accept, '{ user(id: "carol") { events(first: 0) { edges { cursor } } } }');
      expect(bad.headers.get('content-type'), String(accept)).toBe(type);
      expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('invalid_parameter');
    }
    expect((await post('text/html', '{ user(id: "carol") { id } }')).status).toBe(406);
  });
});

const hostOf = (i: number) => `127.0.1${i}.1`;

/** A port free on both shard addresses. */
async function freePortOnBoth(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer().listen(0, hostOf(0), () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
      s.once('error', reject);
    });
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer().listen(port, hostOf(1), () => s.close(() => resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (free) return port;
  }
}

/** A counter of a shard's /metrics, summed over the series whose labels include `labels`. */
async function shardMetric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, 'gm'))) if (m[1]!.includes(labels)) n += Number(m[2]);
  return n;
}

describe('GraphQL on two shards', () => {
  const dir = tempDir();
  const shardDirs = [tempDir(), tempDir()];
  let config: Config;
  let ch: ClickHouseHandle;
  let http: ClickHouseHttp;
  const shards: QueryProcess[] = [];
  let port = 0;
  const now = Date.now();
  const data = randomEvents(33, 800, 30, now - 5 * DAY, now);
  const url = (i: number) => `http://${hostOf(i)}:${port}`;
  // Users held by shard 1 (the producer's partitioner over 4 partitions; shard 1 holds 1 and 3).
  const heldBy1 = data.users.filter((u) => partitionForKey(u, 4) % 2 === 1);

  beforeAll(async () => {
    config = testConfig(dir.path, { KAFKA_PARTITIONS: '4' });
    const kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    http = await serveClickHouseHttp(ch.client);
    await produce(kafka, config.kafka.topics.events, data.events);
    port = await freePortOnBoth();
    for (const i of [0, 1]) {
      shards.push(
        spawnQuery({
          KAFKA_BROKERS: kafkaBrokers().join(','),
          KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
          KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
          KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
          CLICKHOUSE_URL: http.url,
          TRACKHOUSE_DATA_DIR: shardDirs[i]!.path,
          TRACKHOUSE_READ_KEYS: KEY,
          HOST: hostOf(i),
          QUERY_PORT: String(port),
          QUERY_SHARDS: '2',
          QUERY_SHARD_INDEX: String(i),
          QUERY_SHARD_URL: `http://127.0.1{i}.1:${port}`,
          QUERY_VIEW_DAYS: '3650',
          QUERY_STREAM: 'off',
          SHUTDOWN_DRAIN_DELAY_MS: '0',
          LOG_LEVEL: 'info',
        }),
      );
    }
    await Promise.all(shards.map((s) => s.ready()));
  });
  afterAll(async () => {
    await Promise.allSettled(shards.map((s) => s.stop()));
    await http?.close();
    await ch?.close();
    for (const d of [dir, ...shardDirs]) d.remove();
  });

  it('answers a user held by the other shard as REST on that shard does, forwarding with the caller`s key', async () => {
    expect(heldBy1.length).toBeGreaterThan(3);
    const client = new GraphQLClient(`${url(0)}/graphql`, { headers: { authorization: `Bearer ${KEY}` } });
    const forwardedBefore = await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="forwarded"');
    let pages = 0;
    for (const user of heldBy1) {
      for (const query of ['limit=3', 'type=track&limit=5']) {
        const req = { user, query };
        const rest = await allPages(url(1), KEY, req);
        pages += await sameAsRest(client, req, rest);
      }
    }
    expect(pages).toBeGreaterThan(heldBy1.length * 2);
    // Every GraphQL page went to shard 1; shard 0 read none from its own view or ClickHouse.
    expect((await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="forwarded"')) - forwardedBefore).toBe(pages);
    expect(await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="view"')).toBe(0);
    expect(await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="clickhouse"')).toBe(0);
  });

  it('refuses a GraphQL request without the read key with 401, without asking the other shard', async () => {
    const user = heldBy1[0]!;
    const forwardedBefore = await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="forwarded"');
    const shard1Before = await shardMetric(url(1), 'trackhouse_query_requests_total', 'route="events"');
    for (const authorization of [null, 'Bearer wrong-key']) {
      const r = await fetch(`${url(0)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
        body: JSON.stringify({ query: PAGE, variables: { id: user, first: 3 } }),
      });
      expect(r.status, String(authorization)).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await r.json()) as { error: string }).error).toBe('unauthorized');
    }
    expect(await shardMetric(url(0), 'trackhouse_query_events_answers_total', 'answer="forwarded"')).toBe(forwardedBefore);
    expect(await shardMetric(url(1), 'trackhouse_query_requests_total', 'route="events"')).toBe(shard1Before);
  });
});
