// GET /dashboard and its files on the real query server: content types, caching (the page
// revalidated with its ETag, files under a build hash cached for a year), gzip, the CSP, HEAD and
// other methods, and GET /v1/pipeline behind the read key like the rest of the API; with a real
// ingest (on the run's broker), the requests it refused before reading any event counted by code
// in /v1/pipeline, and the page's place for them.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/dashboard/index.js';
import { exchange } from '../support/raw-http.js';
import { startTestIngest, type TestIngest } from './ingest-support.js';
import { READ_KEY, startHarness, type Harness } from './query-helpers.js';

let h: Harness;
let page = '';
let assetBase = '';

beforeAll(async () => {
  h = await startHarness({ dashboard: true });
  const res = await fetch(`${h.base}/dashboard`);
  page = await res.text();
  assetBase = /href="(\/dashboard\/assets\/[0-9a-f]{12}\/)dashboard\.css"/.exec(page)![1]!;
});

afterAll(async () => {
  await h?.close();
});

describe('GET /dashboard', () => {
  it('serves the page as HTML, revalidated on every load, with a CSP that allows only this origin', async () => {
    for (const path of ['/dashboard', '/dashboard/']) {
      const res = await fetch(`${h.base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('etag')).toMatch(/^"[\w-]+"$/);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toContain('<h2 id="live-title">Live events per second, by source</h2>');
    }
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self';");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|\*|https?:/);
    // Nothing inline that the CSP would block: every script and style comes from a file.
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/<style|\sstyle=/);
  });

  it('answers 304 to a client that has the page, and the same page to one that has another', async () => {
    const first = await fetch(`${h.base}/dashboard`);
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${h.base}/dashboard`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await fetch(`${h.base}/dashboard`, { headers: { 'if-none-match': `W/${etag}` } })).status).toBe(304);
    expect((await fetch(`${h.base}/dashboard`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('serves every file the page names, with its content type, cached for a year, uPlot from its package', async () => {
    const urls = [...page.matchAll(/(?:href|src)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(urls.map((u) => u.slice(assetBase.length)).sort()).toEqual(['dashboard.css', 'favicon.svg', 'main.js', 'uplot.css', 'uplot.js']);
    const types: Record<string, string> = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8', svg: 'image/svg+xml' };
    for (const url of urls) {
      const res = await fetch(`${h.base}${url}`);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toBe(types[url.split('.').pop()!]);
      expect(res.headers.get('cache-control'), url).toBe('public, max-age=31536000, immutable');
      expect((await res.arrayBuffer()).byteLength, url).toBeGreaterThan(100);
    }
    const uplot = await (await fetch(`${h.base}${assetBase}uplot.js`)).text();
    expect(uplot).toContain('https://github.com/leeoniya/uPlot');
    // main.js imports its panels by relative paths, which resolve under the same build.
    const main = await (await fetch(`${h.base}${assetBase}main.js`)).text();
    for (const m of main.matchAll(/from '\.\/([^']+)'/g)) expect((await fetch(`${h.base}${assetBase}${m[1]}`)).status, m[1]).toBe(200);
  });

  it('gzips what it can for a client that takes gzip, and never for one that does not', async () => {
    const [gz] = await exchange(h.server.port, [{ method: 'GET', path: `${assetBase}uplot.js`, headers: { 'Accept-Encoding': 'gzip, br' } }]);
    expect(gz!.headers['content-encoding']).toBe('gzip');
    expect(gz!.headers.vary).toBe('Accept-Encoding');
    const plain = await (await fetch(`${h.base}${assetBase}uplot.js`, { headers: { 'accept-encoding': 'identity' } })).text();
    expect(gunzipSync(gz!.bodyBytes).toString()).toBe(plain);
    const [refused] = await exchange(h.server.port, [{ method: 'GET', path: `${assetBase}uplot.js`, headers: { 'Accept-Encoding': 'gzip;q=0' } }]);
    expect(refused!.headers['content-encoding']).toBeUndefined();
  });

  it('404s a file of another build or none, answers HEAD without a body, and 405 to other methods', async () => {
    expect((await fetch(`${h.base}/dashboard/assets/000000000000/main.js`)).status).toBe(404);
    expect((await fetch(`${h.base}${assetBase}nope.js`)).status).toBe(404);
    expect((await fetch(`${h.base}${assetBase}../../v1/pipeline`)).status).not.toBe(200);
    const answers = await exchange(h.server.port, [
      { method: 'HEAD', path: '/dashboard' },
      { method: 'HEAD', path: `${assetBase}main.js` },
      { method: 'POST', path: '/dashboard', body: '{}' },
      { method: 'GET', path: '/healthz' },
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 405, 200]);
    expect(answers[0]!.body).toBe('');
    expect(Number(answers[0]!.headers['content-length'])).toBe(Buffer.byteLength(page));
    expect(answers[1]!.body).toBe('');
    expect(answers[2]!.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(answers[3]!.body).toBe('{"status":"ok"}');
  });
});

describe('GET /v1/pipeline', () => {
  it('needs the read key, as every API route does', async () => {
    const none = await h.get('/v1/pipeline', null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="trackhouse"');
    expect((await h.get('/v1/pipeline', 'wrong')).status).toBe(401);
    // As the API's other routes: HEAD is GET without the body, other methods get 405.
    const answers = await exchange(h.server.port, [
      { method: 'HEAD', path: '/v1/pipeline', headers: { Authorization: `Bearer ${READ_KEY}` } },
      { method: 'POST', path: '/v1/pipeline', body: '' },
      { method: 'GET', path: '/healthz' },
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 405, 200]);
    expect(answers[0]!.body).toBe('');
    expect(Number(answers[0]!.headers['content-length'])).toBeGreaterThan(0);
    expect(answers[1]!.headers.allow).toBe('GET, HEAD, OPTIONS');
  });

  it('says which parts are not configured (the harness sets no DASHBOARD_* URL)', async () => {
    const r = await h.get('/v1/pipeline', READ_KEY);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({ ingest: { configured: false }, sink: { configured: false } });
  });
});

describe('GET /v1/pipeline with the ingest refusing requests at the door', () => {
  let ingest: TestIngest;
  let q: Awaited<ReturnType<Harness['another']>>;

  beforeAll(async () => {
    ingest = await startTestIngest();
    // A second query server on the harness's chDB (one data dir per process), reading this ingest.
    q = await h.another({ dashboard: true, env: { DASHBOARD_INGEST_URL: ingest.url } });
  }, 120_000);

  afterAll(async () => {
    await ingest?.close();
  });
  it('counts a wrong write key, a missing one, an unreadable keyless body and an encoding it cannot undo by code; the page has their list', async () => {
    // Sent as an app would: no Authorization header at all unless given.
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${ingest.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const wrongKey = { authorization: `Basic ${Buffer.from('not-a-write-key:').toString('base64')}` };
    const batch = JSON.stringify({ batch: [{ type: 'track', userId: 'u1', event: 'E', messageId: 'refused-1' }] });
    const answers = [
      await post(wrongKey, batch),
      await post(wrongKey, batch),
      await post({}, batch),
      await post({}, '{"batch":['),
      await post({ 'content-encoding': 'br' }, batch), // refused before its body is read
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 400, 415]);
    // One scrape a second at most, shared: the next one after the refusals has them.
    await expect
      .poll(
        async () => {
          const r = await q.get('/v1/pipeline');
          const i = (r.body as { ingest: { unauthenticated: unknown; bodies_rejected: unknown } }).ingest;
          return { status: r.status, unauthenticated: i.unauthenticated, bodies_rejected: i.bodies_rejected };
        },
        { timeout: 10_000 },
      )
      .toEqual({ status: 200, unauthenticated: { unknown_write_key: 2, missing_write_key: 2 }, bodies_rejected: { malformed_json: 1, unsupported_encoding: 1 } });
    // The page (no key, no data) has the place the refusals are listed, under the rejected events.
    const html = await (await fetch(`http://127.0.0.1:${q.server.port}/dashboard`)).text();
    expect(html).toContain('<h3 id="refused-title">Requests refused before any event was read</h3>');
    expect(html).toMatch(/<ol class="refused" data-refused aria-labelledby="refused-title"><\/ol>/);
  });
});
