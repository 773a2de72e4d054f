// The query API from a page of another origin in a real browser (Debian's Chromium, headless,
// driven by playwright-core): the page (http://localhost:<port>, the query servers on 127.0.0.1)
// reads a user's events with fetch and a read key in Authorization, and posts a GraphQL query as
// JSON, both of which Chromium sends only after a CORS preflight; it reads a 401's body and its
// WWW-Authenticate. With QUERY_CORS_ORIGINS naming the page's origin the same works; with a list
// that leaves it out Chromium refuses the answer: fetch rejects with a TypeError.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_MISSING, chromiumPath, serveSite } from '../support/chromium.js';
import { insertRows, READ_KEY, startHarness, type Harness } from './query-helpers.js';

const executablePath = chromiumPath();

// Listed as skipped, with the reason, only when there is no browser to drive.
if (executablePath === null) {
  describe('query API from a page of another origin', () => {
    it.skip(CHROMIUM_MISSING, () => {});
  });
}

/** What the page's script got: the answer's status, headers it read and body, or the error fetch threw. */
interface Fetched {
  status?: number;
  body?: any;
  wwwAuthenticate?: string | null;
  error?: { name: string; message: string };
}

describe.runIf(executablePath !== null)('query API from a page of another origin (Chromium)', () => {
  let query: Harness;
  let site: Awaited<ReturnType<typeof serveSite>>;
  let browser: Browser;
  let page: Page;
  /** Servers on the same data: one naming the page's origin, one naming another. */
  let listed: string;
  let unlisted: string;

  beforeAll(async () => {
    site = await serveSite({});
    query = await startHarness({ graphql: true });
    await insertRows(query.ch, [
      { event_id: 'e1', user_id: 'alice', timestamp: Date.UTC(2026, 0, 2), properties: '{"plan":"pro"}' },
      { event_id: 'e2', user_id: 'alice', timestamp: Date.UTC(2026, 0, 3) },
    ]);
    listed = `http://127.0.0.1:${(await query.another({ env: { QUERY_CORS_ORIGINS: `https://elsewhere.example,${site.url}` } })).server.port}`;
    unlisted = `http://127.0.0.1:${(await query.another({ env: { QUERY_CORS_ORIGINS: 'https://elsewhere.example' } })).server.port}`;
    browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.goto(site.url);
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await query?.close();
  });

  /**
   * Runs fetch(url, init) in the page and reads the answer as its script can. Evaluated as text:
   * this file is compiled without the DOM's types, and a function's source would carry the
   * transpiler's helpers into the page.
   */
  async function fetchInPage(url: string, init: Record<string, unknown>): Promise<Fetched> {
    return page.evaluate(`(async () => {
      try {
        const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(init)});
        return { status: r.status, body: await r.json(), wwwAuthenticate: r.headers.get('www-authenticate') };
      } catch (e) {
        return { error: { name: e.name, message: e.message } };
      }
    })()`);
  }

  const withKey = (key = READ_KEY) => ({ headers: { Authorization: `Bearer ${key}` } });

  it('is served from another origin than the query servers', async () => {
    expect(await page.evaluate('location.origin')).toBe(site.url);
    expect(site.url).not.toBe(query.base);
  });

  it('reads a user\'s events with a read key (QUERY_CORS_ORIGINS=*), also through a trailing slash', async () => {
    const got = await fetchInPage(`${query.base}/v1/users/alice/events`, withKey());
    expect(got.error).toBeUndefined();
    expect(got.status).toBe(200);
    expect(got.body.events.map((e: { event_id: string }) => e.event_id)).toEqual(['e2', 'e1']);
    expect(got.body.events[1].properties).toEqual({ plan: 'pro' });
    const slash = await fetchInPage(`${query.base}/v1/users/alice/events/?limit=1`, withKey());
    expect([slash.status, slash.body.events.map((e: { event_id: string }) => e.event_id)]).toEqual([200, ['e2']]);
  });

  it('posts a GraphQL query as JSON and reads the page', async () => {
    const got = await fetchInPage(`${query.base}/graphql`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${READ_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: 'query ($id: String!) { user(id: $id) { events(first: 5) { edges { node { eventId } } } } }', variables: { id: 'alice' } }),
    });
    expect(got.error).toBeUndefined();
    expect(got.status).toBe(200);
    expect(got.body.data.user.events.edges.map((e: { node: { eventId: string } }) => e.node.eventId)).toEqual(['e2', 'e1']);
  });

  it('reads an error: a wrong key\'s 401, its body and its WWW-Authenticate', async () => {
    const got = await fetchInPage(`${query.base}/v1/users/alice/events`, withKey('wrong'));
    expect(got.status).toBe(401);
    expect(got.body.error).toBe('unauthorized');
    expect(got.wwwAuthenticate).toBe('Bearer realm="trackhouse", error="invalid_token"');
  });

  it('reads the events from a server whose QUERY_CORS_ORIGINS lists the page\'s origin', async () => {
    const got = await fetchInPage(`${listed}/v1/users/alice/events`, withKey());
    expect(got.error).toBeUndefined();
    expect(got.body.events.map((e: { event_id: string }) => e.event_id)).toEqual(['e2', 'e1']);
  });

  it('cannot read a server whose QUERY_CORS_ORIGINS leaves the page\'s origin out: fetch rejects with a TypeError', async () => {
    // The same request the listed server answers, on the same data.
    expect((await fetchInPage(`${listed}/v1/users/alice/events`, withKey())).status).toBe(200);
    const got = await fetchInPage(`${unlisted}/v1/users/alice/events`, withKey());
    expect(got.status).toBeUndefined();
    expect(got.error?.name).toBe('TypeError');
    // Without a key (no preflight: a simple request) the answer is refused to the page all the same.
    const simple = await fetchInPage(`${unlisted}/v1/users/alice/events`, {});
    expect(simple.error?.name).toBe('TypeError');
  });
});
