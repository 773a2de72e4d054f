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

  it('an unknown write key fails to load, saying the key is not known', async () => {
    const { pg, outcome } = await load('not-a-key');
    expect(outcome).toMatch(/^failed: .*not known/);
    await pg.close();
  });
});
