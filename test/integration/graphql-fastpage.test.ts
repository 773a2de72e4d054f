// The GraphQL fast page (src/graphql/fastpage.ts) against the real broker and chDB: the query
// component builds its view from the topic (random events with odd JSON texts, escapes, non-ASCII
// ids), and for random selections, filters, users and cursors the answer written from the view's
// row bytes is byte for byte what graphql-jit answers for the same operation (made to take the
// executed path by an `@include(if: true)` that changes nothing), with the same status and media
// type; trackhouse_graphql_fast_pages_total proves which path answered. REST's pages are unchanged
// by the view's row header (the view differential tests compare them with ClickHouse's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/common/metrics.js';
import { tempDir } from '../support/env.js';
import { randomOperation, rng, slowOf, type Operation, type PageArgs } from '../support/graphql-selections.js';
import { metricValue } from './query-helpers.js';
import { DAY, queryOnView, randomEvents, randomRequests, type QueryOnView } from './view-helpers.js';

const KEY = 'test-read-key';

describe('the GraphQL fast page against execution, on a view built from Kafka', () => {
  const dir = tempDir();
  let view: QueryOnView;
  let registry: Registry;
  let base = '';
  const now = Date.now();
  const start = now - 10 * DAY;
  const end = now + DAY;
  const data = randomEvents(43, 1200, 30, start, end);

  beforeAll(async () => {
    view = await queryOnView(dir.path, data.events);
    ({ registry, base } = view);
  });
  afterAll(async () => {
    await view?.stop();
    dir.remove();
  });

  const fastPages = () => metricValue(registry, 'trackhouse_graphql_fast_pages_total', {});
  /** POST (answered within the request's call when fast), or GET (through graphql-http's execute). */
  const post = async (op: Operation, accept?: string, method: 'GET' | 'POST' = 'POST') => {
    const headers = { authorization: `Bearer ${KEY}`, ...(accept ? { accept } : {}) };
    const res =
      method === 'POST'
        ? await fetch(`${base}/graphql`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(op) })
        : await fetch(`${base}/graphql?${new URLSearchParams({ query: op.query, variables: JSON.stringify(op.variables) }).toString()}`, { headers });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  /** The page args of a REST request's query string. */
  const argsOf = (user: string, query: string): PageArgs => {
    const a: PageArgs = { id: user };
    for (const [k, v] of new URLSearchParams(query)) {
      if (k === 'limit') a.first = Number(v);
      else (a as unknown as Record<string, string>)[k] = v;
    }
    return a;
  };

  it('answers random selections, filters, users and cursors with the bytes graphql-jit answers', async () => {
    const r = rng(11);
    const requests = randomRequests(12, 60, data.users, start, end);
    let sent = 0;
    let followed = 0;
    const before = await fastPages();
    for (const req of requests) {
      let args = argsOf(req.user, req.query);
      // Up to three pages: the next one `after` the previous endCursor (asked for on its own).
      for (let page = 0; page < 3; page++) {
        const op = randomOperation(r, args);
        const accept = r() < 0.3 ? 'application/graphql-response+json' : undefined;
        const method = r() < 0.25 ? 'GET' : 'POST';
        const fast = await post(op, accept, method);
        const slow = await post(slowOf(op), accept, method);
        sent++;
        const where = `${op.query} ${JSON.stringify(op.variables)}`;
        expect(fast.status, where).toBe(200);
        expect(fast.type, where).toBe(slow.type);
        expect(fast.text, where).toBe(slow.text);
        expect(fast.text, where).not.toContain('"errors"');
        const info = await post({
          query: 'query($id: String!, $first: Int, $after: String, $type: EventType, $event: String, $from: String, $to: String) { user(id: $id) { events(first: $first, after: $after, type: $type, event: $event, from: $from, to: $to) { pageInfo { hasNextPage endCursor } } } }',
          variables: { ...args },
        });
        sent++;
        const pi = (JSON.parse(info.text) as { data: { user: { events: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } } } }).data.user.events.pageInfo;
        if (!pi.hasNextPage) break;
        args = { ...args, after: pi.endCursor };
        followed++;
      }
    }
    // Every one of those pages, and only those, was written from the view's rows.
    expect(await fastPages()).toBe(before + sent);
    expect(followed).toBeGreaterThan(5);
  });

  it('answers REST\'s page asked through GraphQL (every field in REST\'s order, with and without a cursor per edge) with graphql-jit\'s bytes and REST\'s events, REST read in between', async () => {
    const node = 'eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId';
    const defs = '$id: String!, $first: Int, $type: EventType, $event: String, $from: String, $to: String';
    const args = 'first: $first, type: $type, event: $event, from: $from, to: $to';
    const queries = [`edges { node { ${node} } }`, `edges { cursor node { ${node} } }`].map((edges) => `query Page(${defs}) { user(id: $id) { events(${args}) { ${edges} pageInfo { hasNextPage endCursor } } } }`);
    const camel = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v]));
    const before = await fastPages();
    let sent = 0;
    for (const req of randomRequests(13, 40, data.users, start, end)) {
      const variables = argsOf(req.user, req.query) as unknown as Record<string, unknown>;
      for (const query of queries) {
        const fast = await post({ query, variables });
        // REST between the fast page and its executed twin: the same view reader, read again.
        const rest = (await (await fetch(`${base}/v1/users/${encodeURIComponent(req.user)}/events?${req.query}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { events: Record<string, unknown>[]; next_cursor: string | null };
        const slow = await post({ query: query.replace('user(id: $id)', 'user(id: $id) @include(if: true)'), variables });
        sent++;
        expect(fast.status).toBe(200);
        expect(fast.text, `${query} ${JSON.stringify(variables)}`).toBe(slow.text);
        const page = (JSON.parse(fast.text) as { data: { user: { events: { edges: { node: unknown }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } } }).data.user.events;
        expect(page.edges.map((e) => e.node)).toEqual(rest.events.map(camel));
        expect(page.pageInfo.hasNextPage).toBe(rest.next_cursor !== null);
        if (rest.next_cursor !== null) expect(page.pageInfo.endCursor).toBe(rest.next_cursor);
      }
    }
    expect(await fastPages()).toBe(before + sent);
  });

  it('leaves refusals, other shapes and directives to execution, answering as before', async () => {
    const before = await fastPages();
    const user = data.users[0]!;
    const page = 'query($id: String!, $first: Int, $after: String) { user(id: $id) { events(first: $first, after: $after) { edges { cursor node { eventId } } } } }';
    const refused = [
      { query: page, variables: { id: user, first: 0 } },
      { query: page, variables: { id: user, after: 'not-a-cursor' } },
      { query: page, variables: { id: user, first: 'x' } },
      { query: page, variables: { id: '' } },
    ];
    for (const op of refused) {
      const a = await post(op);
      // The directive after the events field: error locations stay where they were.
      const b = await post({ ...op, query: op.query.replace('eventId', 'eventId @include(if: true)') });
      expect(a.text).toBe(b.text);
      expect(a.text).toContain('"errors"');
    }
    const other = await post({ query: `{ user(id: ${JSON.stringify(user)}) { id } }`, variables: {} });
    expect(JSON.parse(other.text)).toEqual({ data: { user: { id: user } } });
    expect(await fastPages()).toBe(before);
  });
});
