// analytics.js (@segment/analytics-next, its own UMD build from npm) in headless Chromium, set up as
// Segment documents a proxy: `AnalyticsBrowser.load({ writeKey, cdnURL })` with the ingest URL as
// cdnURL. It fetches its project settings from there (/v1/projects/<key>/settings), which point it
// back at the same host; its calls are read back through the query API. Skipped, saying so, where
// /usr/bin/chromium is missing (.ci/run installs it).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_KEY } from './ingest-support.js';
import { byKind, startPipeline, type Pipeline } from './pipeline-support.js';

declare const window: Record<string, any>;

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`ingest-browser: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!haveChromium)('analytics.js in headless Chromium', () => {
  let p: Pipeline;
  let browser: Browser;
  let site: http.Server;
  let siteUrl = '';

  beforeAll(async () => {
    p = await startPipeline();
    site = http.createServer((req, res) => {
      if (req.url === '/analytics.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync('node_modules/@segment/analytics-next/dist/umd/index.js'));
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Shop</title><h1>Shop</h1>');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://localhost:${(site.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
    await p?.close();
  });

  async function load(key: string) {
    const pg = await browser.newPage();
    const requests: string[] = [];
    pg.on('requestfailed', (r) => requests.push(`${r.method()} ${r.url()} failed ${r.failure()?.errorText}`));
    pg.on('response', (r) => requests.push(`${r.request().method()} ${r.url()} -> ${r.status()}`));
    await pg.goto(`${siteUrl}/shop`);
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
      [p.ingest.url, key],
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
    const got = byKind(await p.eventsOf(user, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${requests.join('\n')}`))));
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books', source: 'test' });
    expect(got.get('page')).toMatchObject({ name: 'Shop' });
    expect(got.get('page')!.context).toMatchObject({ library: { name: 'analytics.js' }, page: { url: `${siteUrl}/shop` } });
    const toIngest = requests.filter((r) => r.includes(p.ingest.url));
    expect(toIngest).toContain(`GET ${p.ingest.url}/v1/projects/${WRITE_KEY}/settings -> 200`);
    expect(toIngest.filter((r) => /^POST .*\/v1\/[tip] -> 200$/.test(r))).toHaveLength(3);
    // Every request went to the page's own site or to the ingest (no metrics to api.segment.io, no CDN).
    expect(requests.filter((r) => !r.includes(p.ingest.url) && !r.includes(siteUrl))).toEqual([]);
    expect(requests.filter((r) => !r.endsWith('-> 200'))).toEqual([]);
    await pg.close();
  });

  it('an unknown write key fails to load, saying the key is not known', async () => {
    const { pg, outcome } = await load('not-a-key');
    expect(outcome).toMatch(/^failed: .*not known/);
    await pg.close();
  });
});
