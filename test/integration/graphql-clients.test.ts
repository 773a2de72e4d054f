// POST/GET /graphql with the clients and tools teams point at it, from npm, in process against a
// real query server and chDB: Apollo Client (HttpLink, relay-style paging with fetchMore, errors,
// automatic persisted queries over POST and GET, BatchHttpLink), urql (its persisted exchange,
// preferGetMethod), the introspection GraphiQL, graphql-config and codegen send (the schema they
// build equals docs/schema.graphql; introspection off answers a GraphQL error), the CORS
// preflights of browser IDEs; and, on a view built from the real broker, persisted-query hits and
// the Accept and Content-Type headers real clients send answered by the fast page.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_REFUSED } from '../../src/graphql/routes.js';
import type { EventRecord } from '../../src/schema/index.js';
import { tempDir } from '../support/env.js';
import { exchange, type RawRequest } from '../support/raw-http.js';
import { EXPOSED, preflight } from './cors-helpers.js';
import { events, insertRows, metricValue, READ_KEY, startHarness, type Harness, type Row } from './query-helpers.js';
import { testEvent } from './sink-helpers.js';
import { queryOnView, type QueryOnView } from './view-helpers.js';

const T0 = Date.UTC(2026, 7, 1);
const H = 3_600_000;

/** 37 events of erin (four sharing a timestamp): more than a few pages of 5. */
const erin: Row[] = Array.from({ length: 37 }, (_, i) => ({
  event_id: `e-${String(i).padStart(3, '0')}`,
  user_id: 'erin',
  timestamp: i >= 33 ? T0 + 40 * H : T0 + i * H,
  type: i % 4 === 0 ? 'page' : 'track',
  ...(i % 4 === 0 ? { name: 'Home' } : { event: i % 2 ? 'Clicked' : 'Viewed' }),
  properties: `{"i":${i}}`,
  source: 'web',
}));

/** erin's events as records for the topic (the view's describe block). */
const erinEvents: EventRecord[] = erin.map((r, i) =>
  testEvent(i, { event_id: r.event_id, user_id: 'erin', timestamp: r.timestamp, type: r.type as EventRecord['type'], event: r.event ?? null, name: r.name ?? null, category: null, properties: r.properties!, source: 'web' }),
);

const DOCUMENTED = printSchema(buildSchema(readFileSync(new URL('../../docs/schema.graphql', import.meta.url), 'utf8')));

/** A request a client sent, as the server saw it. */
interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  status: number;
  answer: string;
}

/** fetch that records every request and its answer (the clients' own requests, unchanged). */
function recordingFetch(log: Sent[]): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await req.clone().text();
    const res = await fetch(req);
    const answer = await res.clone().text();
    log.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body, status: res.status, answer });
    return res;
  };
}

/** Apollo's PersistedQueryLink takes the hash function. */
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Whether a request asks for a persisted query by its hash alone (no text). */
function hashOnly(s: Sent): boolean {
  const params = s.method === 'GET' ? Object.fromEntries(new URL(s.url).searchParams) : JSON.parse(s.body!);
  const ext = typeof params.extensions === 'string' ? JSON.parse(params.extensions) : params.extensions;
  return params.query === undefined && typeof ext?.persistedQuery?.sha256Hash === 'string';
}

const PAGE = gql`
  query ErinPage($id: String!, $first: Int, $after: String) {
    user(id: $id) {
      id
      events(first: $first, after: $after) {
        edges { cursor node { eventId type event timestamp properties } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

interface PageData {
  user: { id: string; events: { edges: { cursor: string; node: { eventId: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
}

/** The query server of the running describe block. */
let base = '';
const auth = { authorization: `Bearer ${READ_KEY}` };

/**
 * A query server with erin's events in ClickHouse (no view: every page executed) for the
 * enclosing describe block (one chDB session per process: one block after the other).
 */
function serverWith(env: Record<string, string>): void {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await startHarness({ graphql: true, env });
    await insertRows(h.ch, erin);
    base = h.base;
  });
  afterAll(async () => {
    await h?.close();
  });
}

/** Every event id of erin, newest first, as REST pages them. */
async function restIds(limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await fetch(`${base}${events('erin', `limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)}`, { headers: auth });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { events: { event_id: string }[]; next_cursor: string | null };
    ids.push(...body.events.map((e) => e.event_id));
    cursor = body.next_cursor;
  } while (cursor !== null);
  return ids;
}

/** The schema an introspection answer describes, printed (as graphql-config and codegen build it). */
function printedFrom(result: { data?: unknown }): string {
  expect(result.data).toBeDefined();
  return printSchema(buildClientSchema(result.data as IntrospectionQuery));
}

/** What @graphql-tools/executor-http (graphql-config, codegen's URL loader) sends with its POSTs. */
const TOOLS_HEADERS = { accept: 'application/graphql-response+json, application/json, multipart/mixed', 'content-type': 'application/json' };

/** Apollo Client with relay-style paging of a user's events (the cache merges each page after the last). */
const apollo = (link: ApolloLink) =>
  new ApolloClient({
    link,
    cache: new InMemoryCache({ typePolicies: { User: { keyFields: ['id'], fields: { events: relayStylePagination(['from', 'to', 'type', 'event']) } } } }),
  });
const http = (log: Sent[], key = READ_KEY) => new HttpLink({ uri: `${base}/graphql`, headers: { authorization: `Bearer ${key}` }, fetch: recordingFetch(log) });

/**
 * erin's whole history paged 5 by 5 by Apollo Client's fetchMore with `endCursor` as `after`: every
 * event once, in REST's order, one request a page, each with its operationName.
 */
async function apolloPagesAll(): Promise<void> {
  const log: Sent[] = [];
  const client = apollo(http(log));
  const variables = { id: 'erin', first: 5 };
  const watched = client.watchQuery<PageData>({ query: PAGE, variables });
  let sub: { unsubscribe(): void } | undefined;
  try {
    await new Promise((resolve, reject) => {
      sub = watched.subscribe({ next: (r) => r.loading || resolve(r), error: reject });
    });
    // The connection as the cache holds it.
    const merged = () => client.readQuery<PageData>({ query: PAGE, variables })!.user.events;
    let pages = 1;
    while (merged().pageInfo.hasNextPage) {
      await watched.fetchMore({ variables: { after: merged().pageInfo.endCursor } });
      expect(++pages).toBeLessThan(20);
    }
    const ids = merged().edges.map((e) => e.node.eventId);
    expect(pages).toBe(8);
    expect(new Set(ids).size).toBe(37);
    expect(ids).toEqual(await restIds(5));
  } finally {
    sub?.unsubscribe();
  }
  expect(log).toHaveLength(8);
  for (const s of log) {
    expect(s.status).toBe(200);
    expect(JSON.parse(s.body!).operationName).toBe('ErinPage');
  }
}

describe('with introspection on', () => {
  serverWith({ GRAPHQL_MAX_COST: '500', GRAPHQL_INTROSPECTION: 'on' });

  describe('Apollo Client', () => {
    it('queries with variables and operationName, and pages the whole history with fetchMore as REST does', async () => {
      await apolloPagesAll();
    });

    it('shows a wrong key as a ServerError 401 and a query over the cost limit as GraphQL errors', async () => {
      const wrong = apollo(http([], 'wrong-key'));
      const refused = await wrong.query({ query: PAGE, variables: { id: 'erin' }, fetchPolicy: 'no-cache' }).catch((e: unknown) => e);
      expect(ServerError.is(refused)).toBe(true);
      expect((refused as ServerError).statusCode).toBe(401);
      expect(JSON.parse((refused as ServerError).bodyText)).toMatchObject({ error: 'unauthorized' });

      const client = apollo(http([]));
      const over = await client.query({ query: PAGE, variables: { id: 'erin', first: 300 }, fetchPolicy: 'no-cache' }).catch((e: unknown) => e);
      expect(CombinedGraphQLErrors.is(over)).toBe(true);
      expect((over as CombinedGraphQLErrors).errors[0]!.extensions).toMatchObject({ code: 'cost_limit', limit: 500 });
    });

    for (const useGETForHashedQueries of [false, true]) {
      it(`sends automatic persisted queries (useGETForHashedQueries: ${useGETForHashedQueries}): hash only, the text once on PersistedQueryNotFound, then hash only`, async () => {
        const log: Sent[] = [];
          const link = ApolloLink.from([new PersistedQueryLink({ sha256, useGETForHashedQueries }), http(log)]);
        // A query text no other test sends: the server has not seen it.
        const query = gql`query ApqPage${useGETForHashedQueries ? 'Get' : 'Post'}($id: String!, $first: Int) { user(id: $id) { events(first: $first) { edges { node { eventId } } } } }`;
        const want = (await restIds(3)).slice(0, 3);
        for (let i = 0; i < 3; i++) {
          const r = await apollo(link).query<{ user: { events: { edges: { node: { eventId: string } }[] } } }>({ query, variables: { id: 'erin', first: 3 }, fetchPolicy: 'no-cache' });
          expect(r.data!.user.events.edges.map((e) => e.node.eventId)).toEqual(want);
        }
        const method = useGETForHashedQueries ? 'GET' : 'POST';
        // Miss, retry with the text (POST), then two hits.
        expect(log.map((s) => s.method)).toEqual([method, 'POST', method, method]);
        expect(log.map(hashOnly)).toEqual([true, false, true, true]);
        expect(JSON.parse(log[0]!.answer).errors[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
        expect(log.slice(1).map((s) => s.status)).toEqual([200, 200, 200]);
      });
    }

    it('BatchHttpLink: a JSON array body is refused with a 400 that says to send one operation per request', async () => {
      const log: Sent[] = [];
      const client = apollo(new BatchHttpLink({ uri: `${base}/graphql`, headers: auth, fetch: recordingFetch(log), batchMax: 2 }));
      const one = gql`query One { user(id: "erin") { events(first: 1) { edges { node { eventId } } } } }`;
      const two = gql`query Two { user(id: "erin") { events(first: 2) { edges { node { eventId } } } } }`;
      const results = await Promise.all([one, two].map((query) => client.query({ query, fetchPolicy: 'no-cache' }).catch((e: unknown) => e)));
      expect(log).toHaveLength(1);
      expect(JSON.parse(log[0]!.body!)).toHaveLength(2);
      expect(log[0]!.status).toBe(400);
      expect(JSON.parse(log[0]!.answer)).toEqual({ errors: [{ message: BATCH_REFUSED }] });
      // Apollo shows each query's ServerError: the 400 with the reason in its body.
      for (const r of results) {
        expect(ServerError.is(r)).toBe(true);
        expect((r as ServerError).statusCode).toBe(400);
        expect(JSON.parse((r as ServerError).bodyText).errors[0].message).toBe(BATCH_REFUSED);
      }
    });
  });

  describe('urql', () => {
    const urql = (log: Sent[], opts: { key?: string; preferGetMethod?: boolean | 'force' | 'within-url-limit'; persisted?: Parameters<typeof persistedExchange>[0] } = {}) =>
      new UrqlClient({
        url: `${base}/graphql`,
        exchanges: opts.persisted ? [persistedExchange(opts.persisted), fetchExchange] : [fetchExchange],
        fetch: recordingFetch(log),
        fetchOptions: { headers: { authorization: `Bearer ${opts.key ?? READ_KEY}` } },
        ...(opts.preferGetMethod !== undefined ? { preferGetMethod: opts.preferGetMethod } : {}),
        requestPolicy: 'network-only',
      });

    it('queries by GET (its default, and preferGetMethod: force) and by POST (preferGetMethod: false), with the same answer', async () => {
      const want = (await restIds(4)).slice(0, 4);
      for (const [preferGetMethod, method] of [[undefined, 'GET'], ['force', 'GET'], [false, 'POST']] as const) {
        const log: Sent[] = [];
        const r = await urql(log, { preferGetMethod }).query<PageData>(PAGE, { id: 'erin', first: 4 }).toPromise();
        expect(r.error).toBeUndefined();
        expect(r.data!.user.events.edges.map((e) => e.node.eventId)).toEqual(want);
        expect(log.map((s) => [s.method, s.status])).toEqual([[method, 200]]);
      }
    });

    it('shows a wrong key as a network error with the 401, and a query over the cost limit as GraphQL errors', async () => {
      const refused = await urql([], { key: 'wrong-key' }).query(PAGE, { id: 'erin' }).toPromise();
      expect((refused.error?.response as Response | undefined)?.status).toBe(401);
      expect(refused.error?.networkError).toBeDefined();
      const over = await urql([]).query(PAGE, { id: 'erin', first: 300 }).toPromise();
      expect(over.error?.graphQLErrors[0]?.extensions).toMatchObject({ code: 'cost_limit', limit: 500 });
    });

    for (const preferGet of [true, false]) {
      it(`sends persisted queries (persistedExchange, ${preferGet ? 'GET' : 'POST'}): hash only, the text once on PersistedQueryNotFound, then hash only`, async () => {
        const log: Sent[] = [];
        const client = urql(log, { preferGetMethod: preferGet ? 'within-url-limit' : false, persisted: { preferGetForPersistedQueries: preferGet ? 'within-url-limit' : false } });
        const query = gql`query UrqlPersisted${preferGet ? 'Get' : 'Post'}($id: String!) { user(id: $id) { events(first: 2) { edges { node { eventId } } } } }`;
        const want = (await restIds(2)).slice(0, 2);
        for (let i = 0; i < 2; i++) {
          const r = await client.query<{ user: { events: { edges: { node: { eventId: string } }[] } } }>(query, { id: 'erin' }).toPromise();
          expect(r.error).toBeUndefined();
          expect(r.data!.user.events.edges.map((e) => e.node.eventId)).toEqual(want);
        }
        const method = preferGet ? 'GET' : 'POST';
        // urql retries a miss the same way (GET with the text when it fits in a URL), unlike Apollo's POST.
        expect(log.map((s) => s.method)).toEqual([method, method, method]);
        expect(log.map(hashOnly)).toEqual([true, false, true]);
        expect(JSON.parse(log[0]!.answer).errors[0].message).toBe('PersistedQueryNotFound');
      });
    }
  });

  describe('IDEs and schema tools', () => {
    it('GraphiQL: its introspection (createGraphiQLFetcher, inputValueDeprecation and schemaDescription on) gives docs/schema.graphql, and its queries answer', async () => {
      const fetcher = createGraphiQLFetcher({ url: `${base}/graphql`, headers: auth, fetch });
      const schema = await fetcher({ query: getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true }), operationName: 'IntrospectionQuery' });
      expect(printedFrom(schema as { data?: unknown })).toBe(DOCUMENTED);
      // Its other operations go through its multipart fetcher (Accept: application/json, multipart/mixed).
      // That fetcher yields the answers (one here, not multipart) as GraphiQL reads them: for await.
      const answers: { data: PageData }[] = [];
      const out = await fetcher({ query: 'query Mine { user(id: "erin") { events(first: 1) { edges { node { eventId } } } } }', operationName: 'Mine' });
      for await (const a of out as AsyncIterable<{ data: PageData }>) answers.push(a);
      expect(answers).toHaveLength(1);
      const page = answers[0]!;
      expect(page.data.user.events.edges.map((e) => e.node.eventId)).toEqual((await restIds(1)).slice(0, 1));
    });

    it('graphql-config and codegen: the introspection with every option on gives docs/schema.graphql', async () => {
      const every = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, experimentalDirectiveDeprecation: true, oneOf: true });
      for (const query of [getIntrospectionQuery(), every]) {
        const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { ...TOOLS_HEADERS, ...auth }, body: JSON.stringify({ query, operationName: 'IntrospectionQuery' }) });
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
        expect(printedFrom((await r.json()) as { data?: unknown })).toBe(DOCUMENTED);
      }
      // By GET too (executor-http's useGETForQueries): a URL past the 2 KB urql keeps GETs within.
      const url = `${base}/graphql?${new URLSearchParams({ query: every, operationName: 'IntrospectionQuery' })}`;
      expect(url.length).toBeGreaterThan(2048);
      const r = await fetch(url, { headers: { accept: TOOLS_HEADERS.accept, ...auth } });
      expect(r.status).toBe(200);
      expect(printedFrom((await r.json()) as { data?: unknown })).toBe(DOCUMENTED);
    });
  });

  describe('browser IDEs: CORS preflights and answers, as Chromium sends them', () => {
    // Apollo Sandbox (with Apollo's client-awareness headers), Altair's web app, a hosted GraphiQL.
    const IDES: [origin: string, requestHeaders: string][] = [
      ['https://studio.apollographql.com', 'apollographql-client-name,apollographql-client-version,authorization,content-type'],
      ['https://web.altairgraphql.dev', 'authorization,content-type'],
      ['https://graphiql-online.com', 'authorization,content-type,x-custom-header'],
    ];

    it('answers their preflights allowing POST and GET with the headers they ask for, and every answer (pages, introspection, refusals) carries Access-Control-Allow-Origin', async () => {
      const port = Number(new URL(base).port);
      for (const [origin, requestHeaders] of IDES) {
        for (const method of ['POST', 'GET']) {
          const [pre] = await exchange(port, [preflight('/graphql', method, origin, requestHeaders)]);
          expect(pre!.status).toBe(204);
          expect(pre!.headers['access-control-allow-origin']).toBe('*');
          expect(pre!.headers['access-control-allow-methods']!.split(', ')).toContain(method);
          expect(pre!.headers['access-control-allow-headers']).toBe(requestHeaders);
        }
        const post = (body: string, key = READ_KEY): RawRequest => ({
          method: 'POST',
          path: '/graphql',
          headers: { Origin: origin, Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json;q=0.9' },
          body,
        });
        const hash = sha256(`{ never(sent: "${origin}") }`);
        const answers = await exchange(port, [
          post(JSON.stringify({ query: '{ user(id: "erin") { events(first: 1) { edges { node { eventId } } } } }' })),
          post(JSON.stringify({ query: '{ rollups(by: event) { key } }' })),
          post(JSON.stringify({ query: getIntrospectionQuery(), operationName: 'IntrospectionQuery' })),
          post(JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } })),
          post(JSON.stringify([{ query: '{ __typename }' }])),
          post(JSON.stringify({ query: '{ __typename }' }), 'wrong-key'),
        ]);
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 400, 401]);
        for (const a of answers) {
          expect(a.headers['access-control-allow-origin']).toBe('*');
          expect(a.headers['access-control-expose-headers']).toBe(EXPOSED);
        }
      }
    });
  });
});

describe('with introspection off (GRAPHQL_INTROSPECTION=off)', () => {
  serverWith({ GRAPHQL_INTROSPECTION: 'off' });

  it('answers the tools` introspection with a GraphQL error naming introspection, never a 5xx, and still answers queries', async () => {
    const isRefusal = (body: { data?: unknown; errors?: { message: string }[] }) => {
      expect(body.data).toBeUndefined();
      expect(body.errors![0]!.message).toMatch(/introspection/i);
    };
    // GraphiQL's fetcher: 400 with GraphQL's media type, the errors handed to GraphiQL, which shows them.
    const log: Sent[] = [];
    const fetcher = createGraphiQLFetcher({ url: `${base}/graphql`, headers: auth, fetch: recordingFetch(log) });
    isRefusal((await fetcher({ query: getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true }), operationName: 'IntrospectionQuery' })) as never);
    expect(log.map((s) => [s.status, JSON.parse(s.answer).errors.length > 0])).toEqual([[400, true]]);
    // graphql-config and codegen's loader, and a client accepting only application/json (200, as graphql-http answers it).
    for (const [headers, status] of [[TOOLS_HEADERS, 400], [{ accept: 'application/json', 'content-type': 'application/json' }, 200]] as const) {
      const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { ...headers, ...auth }, body: JSON.stringify({ query: getIntrospectionQuery(), operationName: 'IntrospectionQuery' }) });
      expect(r.status).toBe(status);
      isRefusal((await r.json()) as never);
    }
    // Apollo Client shows GraphQL errors, not a network error.
    const apollo = new ApolloClient({ link: new HttpLink({ uri: `${base}/graphql`, headers: auth }), cache: new InMemoryCache() });
    const refused = await apollo.query({ query: gql(getIntrospectionQuery()), fetchPolicy: 'no-cache' }).catch((e: unknown) => e);
    expect(CombinedGraphQLErrors.is(refused)).toBe(true);
    expect((refused as CombinedGraphQLErrors).errors[0]!.message).toMatch(/introspection/i);
    const page = await apollo.query<PageData>({ query: PAGE, variables: { id: 'erin', first: 1 }, fetchPolicy: 'no-cache' });
    expect(page.data!.user.events.edges).toHaveLength(1);
  });
});

describe('on the view: the fast page', () => {
  const dir = tempDir('trackhouse-graphql-clients-');
  let view: QueryOnView | undefined;
  beforeAll(async () => {
    view = await queryOnView(dir.path, erinEvents);
    base = view.base;
  });
  afterAll(async () => {
    await view?.stop();
    dir.remove();
  });
  const fastPages = () => metricValue(view!.registry, 'trackhouse_graphql_fast_pages_total');

  it('pages Apollo Client`s fetchMore (its __typename fields and operationName) with the fast page, as REST pages', async () => {
    const before = await fastPages();
    await apolloPagesAll();
    expect((await fastPages()) - before).toBe(8);
  });

  it('answers Apollo`s persisted-query hits over POST (the hash alone) with the fast page', async () => {
    const log: Sent[] = [];
    const client = apollo(ApolloLink.from([new PersistedQueryLink({ sha256 }), http(log)]));
    const query = gql`query ViewApq($id: String!) { user(id: $id) { events(first: 3) { edges { cursor node { eventId } } pageInfo { endCursor } } } }`;
    const want = (await restIds(3)).slice(0, 3);
    const before = await fastPages();
    for (let i = 0; i < 3; i++) {
      const r = await client.query<{ user: { events: { edges: { node: { eventId: string } }[] } } }>({ query, variables: { id: 'erin' }, fetchPolicy: 'no-cache' });
      expect(r.data!.user.events.edges.map((e) => e.node.eventId)).toEqual(want);
    }
    expect(log.map(hashOnly)).toEqual([true, false, true, true]);
    // The miss answers no page; the text and both hits are fast pages.
    expect((await fastPages()) - before).toBe(3);
  });

  const PAGE_TEXT = 'query P($id: String!) { user(id: $id) { events(first: 2) { edges { cursor node { eventId } } } } }';
  // Executed (no fast page): a directive.
  const EXECUTED_TEXT = 'query P($id: String!) { user(id: $id) { events(first: 2) @include(if: true) { edges { cursor node { eventId } } } } }';
  const ACCEPTS: [accept: string | null, type: string][] = [
    ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
    ['application/graphql-response+json,application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
    ['application/json, multipart/mixed', 'application/json; charset=utf-8'],
    ['application/json, text/plain, */*', 'application/json; charset=utf-8'],
    ['*/*', 'application/json; charset=utf-8'],
    [null, 'application/json; charset=utf-8'],
  ];
  const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'];

  it('answers every Accept and JSON Content-Type with the page and the media type graphql-http picks, fast page or executed, POST or GET', async () => {
    const want = (await restIds(2)).slice(0, 2);
    const before = await fastPages();
    let fast = 0;
    const variables = { id: 'erin' };
    for (const [accept, type] of ACCEPTS) {
      const headers = { ...auth, ...(accept === null ? {} : { accept }) };
      for (const query of [PAGE_TEXT, EXECUTED_TEXT]) {
        const answers = [
          ...CONTENT_TYPES.map((ct) => fetch(`${base}/graphql`, { method: 'POST', headers: { ...headers, 'content-type': ct }, body: JSON.stringify({ query, variables }) })),
          fetch(`${base}/graphql?${new URLSearchParams({ query, variables: JSON.stringify(variables) })}`, { headers }),
        ];
        if (query === PAGE_TEXT) fast += answers.length;
        for (const r of await Promise.all(answers)) {
          const what = `${accept} ${query === PAGE_TEXT ? 'fast' : 'executed'}`;
          expect(r.status, what).toBe(200);
          expect(r.headers.get('content-type'), what).toBe(type);
          expect(((await r.json()) as { data: PageData }).data.user.events.edges.map((e) => e.node.eventId), what).toEqual(want);
        }
      }
    }
    expect((await fastPages()) - before).toBe(fast);
  });
});
