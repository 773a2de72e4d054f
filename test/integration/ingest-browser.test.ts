// analytics.js (@segment/analytics-next, its own UMD build from npm) in headless Chromium, set up as
// Segment documents a proxy: `AnalyticsBrowser.load({ writeKey, cdnURL })` with the ingest URL as
// cdnURL. It fetches its project settings from there (/v1/projects/<key>/settings), which point it
// back at the same host; its calls are read back through the query API. Skipped, saying so, where
// /usr/bin/chromium is missing (.ci/run installs it).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, chromiumPath } from '../support/chromium.js';
import { browserPipeline } from './browser-support.js';
import { WRITE_KEY } from './ingest-support.js';
import { byKind } from './pipeline-support.js';
import { snippetFor } from './segment-snippet.js';

declare const window: Record<string, any>;

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.warn(`ingest-browser: SKIPPED: ${CHROMIUM_MISSING}`);

describe.skipIf(!haveChromium)('analytics.js in headless Chromium', () => {
  const t = browserPipeline({ '/analytics.js': 'node_modules/@segment/analytics-next/dist/umd/index.js' });

  async function load(key: string) {
    const pg = await t.browser.newPage();
    const requests: string[] = [];
    pg.on('requestfailed', (r) => requests.push(`${r.method()} ${r.url()} failed ${r.failure()?.errorText}`));
    pg.on('response', (r) => requests.push(`${r.request().method()} ${r.url()} -> ${r.status()}`));
    await pg.goto(`${t.siteUrl}/shop`);
    await pg.addScriptTag({ url: '/analytics.js' });
    const outcome = await pg.evaluate(
      async ([cdnURL, k]) => {
        try {
          const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load({ writeKey: k, cdnURL });
          window.ajs = analytics;
          return 'loaded';
        } catch (err) {
          return `failed: ${err}`;
        }
      },
      [t.p.ingest.url, key],
    );
    return { pg, requests, outcome };
  }

  it('loads with cdnURL set to the ingest and delivers identify, track and page there, and nowhere else', async () => {
    const user = `ajs-${randomUUID()}`;
    const { pg, requests, outcome } = await load(WRITE_KEY);
    expect(outcome).toBe('loaded');
    await pg.evaluate(async (u) => {
      await window.ajs.identify(u, { plan: 'pro' });
      await window.ajs.track('Order Completed', { total: 12, category: 'books' });
      await window.ajs.page('Shop');
    }, user);
    const got = byKind(await t.p.eventsOf(user, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${requests.join('\n')}`))));
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books', source: 'test' });
    expect(got.get('page')).toMatchObject({ name: 'Shop' });
    expect(got.get('page')!.context).toMatchObject({ library: { name: 'analytics.js' }, page: { url: `${t.siteUrl}/shop` } });
    const toIngest = requests.filter((r) => r.includes(t.p.ingest.url));
    expect(toIngest).toContain(`GET ${t.p.ingest.url}/v1/projects/${WRITE_KEY}/settings -> 200`);
    expect(toIngest.filter((r) => /^POST .*\/v1\/[tip] -> 200$/.test(r))).toHaveLength(3);
    // Every request went to the page's own site or to the ingest (no metrics to api.segment.io, no CDN).
    expect(requests.filter((r) => !r.includes(t.p.ingest.url) && !r.includes(t.siteUrl))).toEqual([]);
    expect(requests.filter((r) => !r.endsWith('-> 200'))).toEqual([]);
    await pg.close();
  });

  // Segment's own snippet (./segment-snippet.ts) with the CDN's origin replaced by the ingest's: the
  // script, its settings, the chunk it lazy-loads and every call come from and go to the ingest. The
  // ingest here is plain http, so the scheme changes with the host (analytics.js's own CDN lookup
  // only knows https srcs: src/ingest/analytics-script.ts says how the served script covers http).
  // The page's ajs_ query parameters make analytics.js load its queryString chunk
  // (/analytics-next/bundles/queryString.bundle.<hash>.js), which sends an identify and a track.
  it("Segment's snippet with only the CDN's origin changed loads analytics.js and its chunks from the ingest and delivers there, and nowhere else", async () => {
    const user = `snippet-${randomUUID()}`;
    const pg = await t.browser.newPage();
    const requests: string[] = [];
    pg.on('requestfailed', (r) => requests.push(`${r.method()} ${r.url()} failed ${r.failure()?.errorText}`));
    pg.on('response', (r) => requests.push(`${r.request().method()} ${r.url()} -> ${r.status()}`));
    const calls = `analytics.identify(${JSON.stringify(user)}, { plan: 'pro' });\nanalytics.track('Order Completed', { total: 12, category: 'books' });`;
    const html = `<!doctype html><html><head><title>Shop</title><script>\n${snippetFor(t.p.ingest.url, WRITE_KEY, calls)}\n</script></head><body><h1>Shop</h1></body></html>`;
    const pageUrl = `${t.siteUrl}/snippet-shop?ajs_uid=${user}&ajs_event=Clicked%20Ad`;
    // The page is the site's own (one made up by page.route counts as a public address, which
    // Chromium's local network access rules keep from loading anything from 127.0.0.1).
    await pg.goto(pageUrl);
    await pg.setContent(html);
    const want = ['identify', 'track:Order Completed', 'track:Clicked Ad', 'page'];
    const events = await t.p.eventsOf(user, want, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${requests.join('\n')}`)));
    const got = byKind(events);
    expect(events.filter((e) => e.type === 'identify').map((e) => e.traits)).toContainEqual(expect.objectContaining({ plan: 'pro' }));
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books', source: 'test' });
    expect(got.get('page')!.context).toMatchObject({ library: { name: 'analytics.js' }, page: { url: pageUrl, title: 'Shop' } });
    const ingest = t.p.ingest.url;
    expect(requests).toContain(`GET ${ingest}/analytics.js/v1/${WRITE_KEY}/analytics.min.js -> 200`);
    expect(requests).toContain(`GET ${ingest}/v1/projects/${WRITE_KEY}/settings -> 200`);
    expect(requests.filter((r) => r.startsWith(`GET ${ingest}/analytics-next/bundles/queryString.bundle.`))).toEqual([expect.stringMatching(/\.js -> 200$/)]);
    expect(requests.filter((r) => /^POST .*\/v1\/[tip] -> 200$/.test(r)).length).toBeGreaterThanOrEqual(4);
    // Every request went to the page's own site or to the ingest (no settings, chunks or metrics from Segment), and none failed.
    expect(requests.filter((r) => !r.startsWith(`GET ${ingest}/`) && !r.startsWith(`POST ${ingest}/`) && !r.startsWith(`GET ${t.siteUrl}/`))).toEqual([]);
    expect(requests.filter((r) => !r.endsWith('-> 200'))).toEqual([]);
    await pg.close();
  });

  it('an unknown write key fails to load, saying the key is not known', async () => {
    const { pg, outcome } = await load('not-a-key');
    expect(outcome).toMatch(/^failed: .*not known/);
    await pg.close();
  });
});
