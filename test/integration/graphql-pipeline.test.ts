// GraphQL on the real pipeline: `trackhouse start` on the test run's broker (ingest -> Kafka -> sink
// -> chDB -> query API, and the stream component for live volume), read through graphql-request.
// With the development keys introspection is on (GRAPHQL_INTROSPECTION=auto).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { GraphQLClient, gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne, type AllInOne } from '../support/allinone.js';

describe('GraphQL against trackhouse start', () => {
  const run = randomBytes(3).toString('hex');
  const userId = `gql-user-${run}`;
  let aio: AllInOne;
  let ingestUrl = '';
  let queryUrl = '';
  let client: GraphQLClient;

  beforeAll(async () => {
    aio = await startAllInOne('graphql', { SHUTDOWN_TIMEOUT_MS: '60000' });
    ingestUrl = aio.ingestUrl;
    queryUrl = aio.queryUrl;
    client = new GraphQLClient(`${queryUrl}/graphql`, { headers: { authorization: 'Bearer dev-read-key' } });
  });

  afterAll(async () => {
    await aio?.stop('SIGTERM');
  });

  it('reads back through GraphQL the events sent to the ingest, paged as REST pages them, and counts them in live volume', async () => {
    const now = Date.now();
    const batch = Array.from({ length: 12 }, (_, i) => ({
      type: 'track',
      event: i % 2 ? 'Paid' : 'Viewed',
      userId,
      messageId: `gql-${run}-${i}`,
      timestamp: new Date(now - (12 - i) * 1000).toISOString(),
      properties: { i },
    }));
    const sent = await fetch(`${ingestUrl}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('dev-write-key:').toString('base64')}` },
      body: JSON.stringify({ batch }),
    });
    expect(sent.status).toBe(200);

    type Page = { user: { events: { edges: { cursor: string; node: { eventId: string; event: string; properties: { i: number } } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } };
    const PAGE = gql`
      query ($id: String!, $after: String) {
        user(id: $id) { events(first: 5, after: $after) { edges { cursor node { eventId event properties } } pageInfo { hasNextPage endCursor } } }
      }
    `;
    const deadline = Date.now() + 60_000;
    let all: Page['user']['events']['edges'] = [];
    for (;;) {
      all = [];
      let after: string | null = null;
      for (let p = 0; p < 10; p++) {
        const page: Page = await client.request<Page>(PAGE, { id: userId, after });
        const rest = (await (await fetch(`${queryUrl}/v1/users/${userId}/events?limit=5${after ? `&cursor=${after}` : ''}`, { headers: { authorization: 'Bearer dev-read-key' } })).json()) as {
          events: { event_id: string }[];
          next_cursor: string | null;
        };
        all.push(...page.user.events.edges);
        // A page may race with the sink between the two reads; compare only settled pages below.
        if (all.length === 12) expect(page.user.events.edges.map((e) => e.node.eventId)).toEqual(rest.events.map((e) => e.event_id));
        if (!page.user.events.pageInfo.hasNextPage) break;
        after = page.user.events.pageInfo.endCursor;
      }
      if (all.length === 12 || Date.now() > deadline) break;
      await sleep(250);
    }
    expect(all.map((e) => e.node.eventId)).toEqual(batch.map((e) => e.messageId).reverse());
    expect(all.map((e) => e.node.properties.i)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);

    const VOLUME = gql`{ volume(by: event, window: minute) { caughtUp rows { key events } } }`;
    let counted = 0;
    while (Date.now() < deadline + 60_000) {
      try {
        const v = await client.request<{ volume: { rows: { key: string; events: number }[] } }>(VOLUME);
        counted = v.volume.rows.filter((r) => r.key === 'Paid' || r.key === 'Viewed').reduce((n, r) => n + r.events, 0);
        if (counted >= 12) break;
      } catch {
        /* the stream component may still be starting: stream_unavailable */
      }
      await sleep(250);
    }
    expect(counted).toBe(12);
  });

  it('serves docs/schema.graphql, introspection being on with the development key', async () => {
    const result = await client.request<IntrospectionQuery>(getIntrospectionQuery());
    expect(printSchema(buildClientSchema(result))).toBe(printSchema(buildSchema(readFileSync(new URL('../../docs/schema.graphql', import.meta.url), 'utf8'))));
  });
});
