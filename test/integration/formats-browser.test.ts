// The vendors' browser SDKs in headless Chromium (Debian's chromium, driven by playwright-core),
// loaded from their npm packages' own browser bundles on a page served from another origin, as a
// site would: posthog-js, @amplitude/analytics-browser, @snowplow/browser-tracker,
// mixpanel-browser, Jitsu's p.js and PostHog's snippet (the scripts served by the ingest itself,
// as Jitsu's and PostHog's hosts serve them) send to
// trackhouse (CORS included), and each one's events are read back
// through the query API. Skipped, saying so, where /usr/bin/chromium is missing (.ci/run installs it).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import puppeteer, { type Browser as FirefoxBrowser } from 'puppeteer-core';
import { CHROMIUM_MISSING, chromiumPath, FIREFOX_MISSING, firefoxPath } from '../support/chromium.js';
import { browserPipeline } from './browser-support.js';
import { WRITE_KEY } from './ingest-support.js';

declare const window: Record<string, any>;
import { byKind, type ApiEvent } from './pipeline-support.js';
import { count, waitFor } from './sink-helpers.js';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.warn(`formats-browser: SKIPPED: ${CHROMIUM_MISSING}`);
else if (firefoxPath() === null) console.warn(`formats-browser: Firefox part SKIPPED: ${FIREFOX_MISSING}`);

const BUNDLES: Record<string, string> = {
  '/posthog.js': 'node_modules/posthog-js/dist/array.no-external.js',
  '/posthog-full.js': 'node_modules/posthog-js/dist/array.full.js',
  '/amplitude.js': 'node_modules/@amplitude/analytics-browser/lib/scripts/amplitude-min.js',
  '/snowplow.js': 'node_modules/@snowplow/browser-tracker/dist/index.umd.min.js',
  '/mixpanel.js': 'node_modules/mixpanel-browser/dist/mixpanel.umd.js',
  '/analytics.js': 'node_modules/@segment/analytics-next/dist/umd/index.js',
};

const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

describe.skipIf(!haveChromium)('browser SDKs in headless Chromium', () => {
  const t = browserPipeline(BUNDLES);

  async function page(script: string | null, user: string) {
    // posthog-js drops events from user agents it takes for bots, HeadlessChrome among them.
    const pg = await t.browser.newPage({ userAgent: BROWSER_UA });
    const failures: string[] = [];
    pg.on('pageerror', (e) => failures.push(String(e)));
    pg.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
    pg.on('response', (r) => {
      if (!r.url().startsWith(t.siteUrl)) failures.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
    });
    await pg.goto(`${t.siteUrl}/shop`);
    if (script !== null) await pg.addScriptTag({ url: script });
    return { pg, failures, user };
  }

  // What the page sent to the ingest, seen as the browser issued it (a beacon's or keepalive
  // request's answer is never seen by the page, nor here once the page is gone).
  function sentFrom(pg: Awaited<ReturnType<typeof page>>['pg']) {
    const sent: { method: string; path: string; type: string; contentType: string; body: string }[] = [];
    pg.on('request', (r) => {
      if (!r.url().startsWith(t.p.ingest.url)) return;
      const u = new URL(r.url());
      sent.push({ method: r.method(), path: u.pathname + u.search, type: r.resourceType(), contentType: r.headers()['content-type'] ?? '', body: r.postData() ?? '' });
    });
    return sent;
  }

  // Records each navigator.sendBeacon call (its URL, the Blob's type or 'string', whether the browser
  // took it) in sessionStorage, which the site's next page (same origin, same tab) still has.
  const spyBeacons = (pg: Awaited<ReturnType<typeof page>>['pg']) =>
    pg.evaluate(() => {
      const { navigator: nav, sessionStorage: store } = window;
      const send = nav.sendBeacon.bind(nav);
      nav.sendBeacon = (url: string, data: unknown) => {
        const taken: boolean = send(url, data);
        const log = JSON.parse(store.getItem('beacons') ?? '[]') as unknown[];
        log.push({ url: String(url), type: data instanceof window.Blob ? (data as { type: string }).type : typeof data, taken });
        store.setItem('beacons', JSON.stringify(log));
        return taken;
      };
    });
  const beaconsSent = (pg: Awaited<ReturnType<typeof page>>['pg']) =>
    pg.evaluate(() => JSON.parse(window.sessionStorage.getItem('beacons') ?? '[]') as { url: string; type: string; taken: boolean }[]);

  // Leaves the page the way a visitor does (a link to another page of the site): pagehide and
  // visibilitychange fire, and only beacons and keepalive requests outlive the page.
  const leave = (pg: Awaited<ReturnType<typeof page>>['pg']) => pg.goto(`${t.siteUrl}/away`);

  // A user's events once `want` are stored, counted again a moment later in ClickHouse: none came
  // twice. (The query API would not show it: it collapses rows with the same time and event id.)
  async function settled(user: string, want: number): Promise<ApiEvent[]> {
    await t.p.eventsOf(user, want, 20_000);
    const stored = () => count(t.p.clickhouse, `SELECT count() FROM events WHERE user_key = '${user}'`);
    await waitFor(`${want} rows of ${user} in ClickHouse`, async () => (await stored()) >= want, 20_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await stored(), 'each event stored once').toBe(want);
    const got = await t.p.eventsOf(user, want);
    expect(got, 'each event served once').toHaveLength(want);
    return got;
  }

  it('posthog-js: identify, a custom event and a pageview', async () => {
    const user = `phjs-${randomUUID()}`;
    const { pg, failures } = await page('/posthog.js', user);
    await pg.evaluate(
      ([host, key, u]) => {
        const ph = window.posthog;
        ph.init(key, { api_host: host, autocapture: false, capture_pageview: false, disable_session_recording: true, advanced_disable_decide: true, request_batching: false, opt_out_useragent_filter: true });
        ph.identify(u, { plan: 'pro' });
        ph.capture('Order Completed', { total: 12, category: 'books' });
        ph.capture('$pageview');
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    const got = byKind(await t.p.eventsOf(user, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${failures.join('\n')}`))));
    // Every request it made to trackhouse was answered 200 (it posts to /e/).
    expect(failures.filter((f) => !/ -> 200$/.test(f))).toEqual([]);
    expect(failures.some((f) => /^POST .*\/e\/ -> 200$/.test(f))).toBe(true);
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books', source: 'test' });
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    expect(got.get('page')!.context).toMatchObject({ library: { name: 'web' }, page: { url: `${t.siteUrl}/shop` } });
    // The device's id (posthog-js's $device_id, the distinct_id it had before identify) stays the
    // anonymous id of the identified user's events, as analytics.js's anonymousId does.
    const device = await pg.evaluate(() => window.posthog.get_property('$device_id'));
    expect(device).toMatch(/^[0-9a-f-]{36}$/);
    for (const e of got.values()) expect(e, `${e.type} ${e.event}`).toMatchObject({ user_id: user, anonymous_id: device });
    await pg.close();
  });

  it('posthog-js with cookieless_mode always: two visitors (user agents) get two anonymous ids of the day, neither "$posthog_cookieless", and no stored address', async () => {
    const run = randomUUID();
    const name = `Cookieless ${run}`;
    const visitors = [
      ['a', BROWSER_UA],
      ['b', BROWSER_UA.replace('Linux x86_64', 'Windows NT 10.0; Win64; x64')],
    ] as const;
    for (const [visitor, userAgent] of visitors) {
      // Each page in its own browser context: no storage shared (and cookieless mode keeps none).
      const pg = await t.browser.newPage({ userAgent });
      const failures: string[] = [];
      let posted = 0;
      pg.on('response', (r) => {
        if (r.url().startsWith(t.siteUrl)) return;
        if (r.status() !== 200) failures.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
        else if (r.request().method() === 'POST') posted++;
      });
      await pg.goto(`${t.siteUrl}/shop`);
      await pg.addScriptTag({ url: '/posthog.js' });
      const sent = await pg.evaluate(
        ([host, key, ev, v]) => {
          const ph = window.posthog;
          ph.init(key, { api_host: host, cookieless_mode: 'always', autocapture: false, capture_pageview: false, disable_session_recording: true, advanced_disable_decide: true, request_batching: false, opt_out_useragent_filter: true });
          ph.capture(ev, { visitor: v, n: 1 });
          ph.capture(ev, { visitor: v, n: 2 });
          return ph.get_distinct_id();
        },
        [t.p.ingest.url, WRITE_KEY, name, visitor],
      );
      expect(sent).toBe('$posthog_cookieless');
      // Both events answered before the page goes (request_batching off: a request each).
      await expect.poll(() => posted, { timeout: 10_000 }).toBe(2);
      expect(failures).toEqual([]);
      await pg.close();
    }
    type Row = { visitor: string; user_id: string; anonymous_id: string; ip: string; ua: string; raw_ua: string };
    let rows: Row[] = [];
    await expect
      .poll(
        async () => {
          const res = await t.p.clickhouse.query({
            query: `SELECT JSONExtractString(properties, 'visitor') AS visitor, user_id, anonymous_id, JSONExtractString(context, 'ip') AS ip,
                      JSONExtractString(context, 'userAgent') AS ua, JSONExtractString(properties, '$raw_user_agent') AS raw_ua
                    FROM events WHERE event = {name:String} ORDER BY visitor`,
            query_params: { name },
            format: 'JSONEachRow',
          });
          rows = await res.json<Row>();
          return rows.length;
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(4);
    const idOf = (v: string) => new Set(rows.filter((r) => r.visitor === v).map((r) => r.anonymous_id));
    // One id per visitor for both of its events, another for the other visitor.
    expect([...idOf('a')]).toHaveLength(1);
    expect([...idOf('b')]).toHaveLength(1);
    const [a] = idOf('a');
    const [b] = idOf('b');
    expect(a).not.toBe(b);
    for (const id of [a, b]) expect(id).toMatch(/^cookieless_[A-Za-z0-9_-]{22}$/);
    // Anonymous, and neither the address nor the user agent it was hashed from is stored.
    for (const r of rows) expect(r).toMatchObject({ user_id: '', ip: '', ua: '', raw_ua: '' });
    // Each is a user of its own in the per-user API.
    const ofA = await t.p.eventsOf(a!, 2);
    expect(ofA.map((e) => e.properties.visitor)).toEqual(['a', 'a']);
  });

  it('posthog-js with its defaults: remote config and flags answered (no 404), then gzip bodies to /i/v0/e/ as the config asks', async () => {
    const user = `phdef-${randomUUID()}`;
    const { pg, failures } = await page('/posthog-full.js', user);
    const gzipped: string[] = [];
    pg.on('request', (r) => {
      if (r.method() === 'POST' && r.postDataBuffer()?.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))) gzipped.push(new URL(r.url()).pathname);
    });
    await pg.evaluate(
      ([host, key, u]) => {
        // Only the bot filter is turned off (headless Chromium sets navigator.webdriver); the rest is posthog-js's defaults.
        window.posthog.init(key, { api_host: host, opt_out_useragent_filter: true });
        window.posthog.identify(u, { plan: 'pro' });
        window.posthog.capture('Order Completed', { total: 12, category: 'books' });
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    const got = byKind(await t.p.eventsOf(user, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${failures.join('\n')}`))));
    expect(failures.filter((f) => !/ -> 200$/.test(f))).toEqual([]);
    expect(failures.some((f) => f.startsWith(`GET ${t.p.ingest.url}/array/${WRITE_KEY}/config.js -> 200`))).toBe(true);
    // identify() reloads the flags even so: answered 200 with none (the filter above).
    expect(failures.some((f) => /^POST .*\/flags\/\?v=2 -> 200$/.test(f))).toBe(true);
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books' });
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    expect(got.get('page')!.context).toMatchObject({ page: { url: `${t.siteUrl}/shop` } });
    // Events sent once the config has arrived follow it: gzip bodies (no Content-Encoding) to its endpoint.
    await pg.evaluate(() => window.posthog.capture('Later', { n: 1 }));
    const later = (await t.p.eventsOf(user, 4, 20_000)).filter((e) => e.event === 'Later');
    expect(later).toHaveLength(1);
    expect(gzipped).toContain('/i/v0/e/');
    await pg.close();
  });

  // PostHog's snippet as its app generates it, loading posthog-js from `arrayJs` under the assets
  // host, with only the token (a write key) and api_host filled in; the site's own calls made at
  // once (the stub queues them until posthog-js has loaded). What the page asked for and was
  // answered, and its errors, are kept.
  async function posthogSnippet(user: string, arrayJs: string) {
    const pg = await t.browser.newPage({ userAgent: BROWSER_UA });
    // posthog-js drops events when navigator.webdriver is set (automation); a visitor's browser has it false.
    await pg.addInitScript(() => Object.defineProperty(window.navigator, 'webdriver', { get: () => false }));
    const requests: string[] = [];
    const problems: string[] = [];
    pg.on('pageerror', (e) => problems.push(String(e)));
    pg.on('requestfailed', (r) => problems.push(`${r.url()} ${r.failure()?.errorText}`));
    pg.on('request', (r) => requests.push(r.url()));
    pg.on('response', (r) => {
      if (!r.url().startsWith(t.siteUrl)) requests.push(`${r.request().method()} ${new URL(r.url()).pathname} -> ${r.status()}`);
    });
    await pg.goto(`${t.siteUrl}/shop`);
    // The snippet of PostHog's app (PostHog/posthog frontend/src/lib/components/JSSnippet.tsx,
    // snippetFunctions and useJsSnippet: crossOrigin "anonymous", the -assets host rewrite, the
    // options it writes; JSSnippetV2 passes `/array/<token>/array.js` as its arrayJs), with the
    // method list of PostHog's docs (PostHog/posthog.com contents/docs/integrate/snippet.mdx).
    await pg.addScriptTag({
      content:
        `!function(t,e){var o,n,p,r;e.__SV||(window.posthog && window.posthog.__loaded)||(window.posthog=e,e._i=[],e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement("script")).type="text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com","-assets.i.posthog.com")+${JSON.stringify(arrayJs)},(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r);var u=e;for(void 0!==a?u=e[a]=[]:a="posthog",u.people=u.people||[],u.toString=function(t){var e="posthog";return"posthog"!==a&&(e+="."+a),t||(e+=" (stub)"),e},u.people.toString=function(){return u.toString(1)+".people (stub)"},o="init capture register register_once register_for_session unregister unregister_for_session getFeatureFlag getFeatureFlagPayload isFeatureEnabled reloadFeatureFlags updateEarlyAccessFeatureEnrollment getEarlyAccessFeatures on onFeatureFlags onSessionId getSurveys getActiveMatchingSurveys renderSurvey canRenderSurvey getNextSurveyStep identify setPersonProperties group resetGroups setPersonPropertiesForFlags resetPersonPropertiesForFlags setGroupPropertiesForFlags resetGroupPropertiesForFlags reset get_distinct_id getGroups get_session_id get_session_replay_url alias set_config startSessionRecording stopSessionRecording sessionRecordingStarted captureException loadToolbar get_property getSessionProperty createPersonProfile opt_in_capturing opt_out_capturing has_opted_in_capturing has_opted_out_capturing clear_opt_in_out_capturing debug".split(" "),n=0;n<o.length;n++)g(u,o[n]);e._i.push([i,s,a])},e.__SV=1)}(document,window.posthog||[]);\n` +
        `posthog.init(${JSON.stringify(WRITE_KEY)}, {\n    api_host: ${JSON.stringify(t.p.ingest.url)},\n    defaults: '2025-05-24',\n    person_profiles: 'identified_only',\n})\n` +
        `posthog.identify(${JSON.stringify(user)}, { plan: 'pro' });\nposthog.capture('Order Completed', { total: 12, category: 'books' });`,
    });
    const got = byKind(await t.p.eventsOf(user, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${requests.join('\n')}; problems: ${problems.join('\n')}`))));
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, category: 'books' });
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    expect(got.get('page')!.context).toMatchObject({ page: { url: `${t.siteUrl}/shop` }, library: { name: 'web' } });
    expect(problems).toEqual([]);
    const answers = requests.filter((r) => / -> \d+$/.test(r));
    expect(answers).toContain(`GET ${arrayJs} -> 200`);
    expect(answers.filter((r) => !/ -> 200$/.test(r))).toEqual([]);
    // Nothing went anywhere but the site and the ingest (no PostHog host, no CDN).
    expect(requests.filter((r) => !/ -> \d+$/.test(r) && !r.startsWith(t.siteUrl) && !r.startsWith(t.p.ingest.url))).toEqual([]);
    await pg.close();
    return answers;
  }

  it("PostHog's copy-paste snippet with only api_host set to the ingest: it loads posthog-js from <ingest>/static/array.js, every request answered 200 by the ingest, events stored", async () => {
    await posthogSnippet(`phsnip-${randomUUID()}`, '/static/array.js');
  });

  it("PostHog's V2 snippet (JSSnippetV2) with only api_host set to the ingest: it loads <ingest>/array/<token>/array.js instead of /static/array.js, every request answered 200 by the ingest, events stored", async () => {
    const answers = await posthogSnippet(`phsnip2-${randomUUID()}`, `/array/${WRITE_KEY}/array.js`);
    expect(answers).not.toContain('GET /static/array.js -> 200');
  });

  it('@amplitude/analytics-browser: a track and an identify', async () => {
    const user = `ampjs-${randomUUID()}`;
    const { pg } = await page('/amplitude.js', user);
    const codes = await pg.evaluate(
      async ([url, key, u]) => {
        const amp = window.amplitude;
        await amp.init(key, u, { serverUrl: `${url}/2/httpapi`, autocapture: false, flushIntervalMillis: 100 }).promise;
        const a = await amp.track('Song Played', { genre: 'jazz' }).promise;
        const b = await amp.identify(new amp.Identify().set('plan', 'pro')).promise;
        return [a.code, b.code];
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    expect(codes).toEqual([200, 200]);
    const got = byKind(await t.p.eventsOf(user, 2));
    expect(got.get('track:Song Played')).toMatchObject({ user_id: user, properties: { genre: 'jazz' } });
    expect(got.get('identify')!.traits).toEqual({ plan: 'pro' });
    await pg.close();
  });

  it('@snowplow/browser-tracker: a page view and a structured event over POST', async () => {
    const user = `spjs-${randomUUID()}`;
    const { pg } = await page('/snowplow.js', user);
    await pg.evaluate(
      ([url, key, u]) => {
        const sp = window.snowplowBrowserTracking;
        sp.newTracker('sp', url, { appId: key, eventMethod: 'post', bufferSize: 1, stateStorageStrategy: 'none', contexts: { webPage: true } });
        sp.setUserId(u);
        sp.trackPageView();
        sp.trackStructEvent({ category: 'shop', action: 'add-to-basket', label: 'sku-1', value: 2 });
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    const got = byKind(await t.p.eventsOf(user, 2));
    expect(got.get('page')).toMatchObject({ name: 'Shop', user_id: user, source: 'test' });
    // The tracker sends no ua: the browser's User-Agent header is the events' user agent, as Snowplow's collector records it.
    expect(got.get('page')!.context).toMatchObject({ page: { url: `${t.siteUrl}/shop` }, platform: 'web', userAgent: BROWSER_UA });
    expect(got.get('track:add-to-basket')).toMatchObject({ category: 'shop' });
    expect(got.get('track:add-to-basket')!.context).toMatchObject({ userAgent: BROWSER_UA });
    await pg.close();
  });

  it('@snowplow/browser-tracker with anonymous tracking: stored under its session id, with no address', async () => {
    const { pg } = await page('/snowplow.js', 'anonymous');
    const sent: { sid?: string; duid?: string; uid?: string; anonymousHeader?: string }[] = [];
    pg.on('request', (r) => {
      if (r.method() !== 'POST' || !r.url().includes('/com.snowplowanalytics.snowplow/tp2')) return;
      for (const e of (JSON.parse(r.postData() ?? '{}') as { data?: { sid?: string; duid?: string; uid?: string }[] }).data ?? []) {
        sent.push({ sid: e.sid, duid: e.duid, uid: e.uid, anonymousHeader: r.headers()['sp-anonymous'] });
      }
    });
    const label = `anon-${randomUUID()}`;
    await pg.evaluate(
      ([url, key, l]) => {
        const sp = window.snowplowBrowserTracking;
        sp.newTracker('spa', url, {
          appId: key,
          eventMethod: 'post',
          bufferSize: 1,
          anonymousTracking: { withSessionTracking: true, withServerAnonymisation: true },
        });
        sp.trackStructEvent({ category: 'shop', action: 'anonymous-view', label: l });
      },
      [t.p.ingest.url, WRITE_KEY, label],
    );
    await expect.poll(() => sent.length, { timeout: 20_000 }).toBeGreaterThan(0);
    // The tracker sends neither user nor device id, only its session id, and asks for no address.
    expect(sent[0]).toMatchObject({ duid: undefined, uid: undefined, anonymousHeader: '*' });
    expect(sent[0]!.sid).toMatch(/^[0-9a-f-]{36}$/);
    const [event] = await t.p.eventsOf(sent[0]!.sid!, 1);
    expect(event).toMatchObject({ user_id: null, anonymous_id: sent[0]!.sid, event: 'anonymous-view', properties: { label } });
    expect(event!.context).not.toHaveProperty('ip');
    await pg.close();
  });

  it('mixpanel-browser: identify and a track', async () => {
    const user = `mpjs-${randomUUID()}`;
    const { pg } = await page('/mixpanel.js', user);
    await pg.evaluate(
      ([url, key, u]) => {
        const mp = window.mixpanel;
        mp.init(key, { api_host: url, batch_requests: false, persistence: 'localStorage', track_pageview: false });
        mp.identify(u);
        mp.track('Signed Up', { plan: 'team', category: 'growth' });
        mp.people.set({ plan: 'team' });
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    // Its events and its profile updates come in requests of their own, in any order.
    const isUpdate = (e: { type: string; traits: unknown }) => e.type === 'identify' && (e.traits as Record<string, unknown>).plan === 'team';
    let got = await t.p.eventsOf(user, ['track:Signed Up', 'identify']);
    for (let i = 0; i < 100 && !got.some(isUpdate); i++) got = await new Promise((r) => setTimeout(r, 200)).then(() => t.p.eventsOf(user, 1));
    const signedUp = got.find((e) => e.event === 'Signed Up');
    expect(signedUp).toMatchObject({ user_id: user, category: 'growth', properties: { plan: 'team', mp_lib: 'web' } });
    expect(got.some((e) => e.type === 'identify' && e.properties.$anon_distinct_id !== undefined)).toBe(true);
    // The profile update (/engage) carries $device_id and $user_id as the events do: the same ids.
    const device = await pg.evaluate(() => window.mixpanel.get_property('$device_id'));
    const update = got.find(isUpdate);
    expect(update).toMatchObject({ user_id: user, anonymous_id: device });
    expect(signedUp).toMatchObject({ anonymous_id: device });
    await pg.close();
  });

  it('mixpanel-browser: get_group(key, id).set, set_once and union go to /groups/ and are stored as group events of the group', async () => {
    const groupId = `acme-${randomUUID()}`;
    const { pg, failures } = await page('/mixpanel.js', groupId);
    await pg.evaluate(
      ([url, key, id]) => {
        const mp = window.mixpanel;
        mp.init(key, { api_host: url, batch_requests: false, persistence: 'localStorage', track_pageview: false });
        const group = mp.get_group('company', id);
        group.set({ name: 'Acme', plan: 'team' });
        group.set_once('founded', 1999);
        group.union('tags', ['b2b']);
      },
      [t.p.ingest.url, WRITE_KEY, groupId],
    );
    const got = await t.p.eventsOf(`$company_${groupId}`, 3, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${failures.join('\n')}`)));
    // Every request it made to trackhouse was answered 200, the updates on /groups/.
    expect(failures.filter((f) => !/ -> 200$/.test(f))).toEqual([]);
    expect(failures.filter((f) => /^POST .*\/groups\/\?.* -> 200$/.test(f))).toHaveLength(3);
    for (const e of got) expect(e).toMatchObject({ type: 'group', group_id: groupId, anonymous_id: null, source: 'test', context: { groups: { company: groupId } } });
    const traits = got.map((e) => e.traits);
    expect(traits).toContainEqual({ name: 'Acme', plan: 'team' });
    expect(traits).toContainEqual({ founded: 1999 });
    expect(got.map((e) => e.properties)).toContainEqual({ $union: { tags: ['b2b'] } });
    await pg.close();
  });

  it('Jitsu\'s p.js from the ingest\'s /p.js: its automatic page view, identify and a track, with the key:secret write key in X-Write-Key', async () => {
    const user = `jitsujs-${randomUUID()}`;
    const { pg, failures } = await page('/posthog.js', user); // any page of the site; the script comes from the ingest
    const anonymous = `anon-${user}`;
    await pg.evaluate(
      ([key, anon]) => {
        // As a site configures it (the script tag's data-* attributes, or window.jitsuConfig); the
        // anonymous id set first, so the automatic page view can be found.
        window.jitsuConfig = { writeKey: `${key}:secret`, onload: 'jitsuLoaded' };
        window.jitsuLoaded = (j: any) => j.setAnonymousId(anon);
      },
      [WRITE_KEY, anonymous],
    );
    await pg.addScriptTag({ url: `${t.p.ingest.url}/p.js` });
    await pg.waitForFunction(() => window.jitsu !== undefined);
    await pg.evaluate(async (u) => {
      await window.jitsu.identify(u, { plan: 'pro' });
      await window.jitsu.track('Order Completed', { total: 12, category: 'books' });
    }, user);
    const got = byKind(await t.p.eventsOf(user, 2, 20_000).catch((err) => Promise.reject(new Error(`${err}; requests: ${failures.join('\n')}`))));
    // Every request to trackhouse (the script, each call, their preflights) was answered 200 or 204.
    expect(failures.filter((f) => !/ -> 20[04]$/.test(f))).toEqual([]);
    expect(failures.some((f) => /^POST .*\/api\/s\/track -> 200$/.test(f))).toBe(true);
    expect(got.get('track:Order Completed')).toMatchObject({ user_id: user, anonymous_id: anonymous, category: 'books', source: 'test' });
    expect(got.get('track:Order Completed')!.context).toMatchObject({ library: { name: '@jitsu/js' }, page: { url: `${t.siteUrl}/shop` } });
    expect(got.get('identify')!.traits).toMatchObject({ plan: 'pro' });
    const pageViews = await t.p.eventsOf(anonymous, ['page']);
    expect(pageViews.find((e) => e.type === 'page')!.context).toMatchObject({ page: { url: `${t.siteUrl}/shop` } });
    await pg.close();
  });

  it("Segment's pixel as a page's <img> with btoa's unescaped '+' in ?data=, the page left at once: each event stored once, as sent", async () => {
    const user = `pixel-${randomUUID()}`;
    const { pg } = await page(null, user);
    const sent = sentFrom(pg);
    const at = '2026-01-02T03:04:05.678Z';
    await pg.evaluate(
      ([url, key, u, time]) => {
        // As sites and email templates write it: base64 put in the URL as is, so a '+' of its
        // alphabet arrives unescaped (the query's form decoding reads it as a space).
        for (let i = 0; i < 3; i++) {
          let pad = '';
          const payload = () => ({ writeKey: key, userId: u, event: 'Email Opened', messageId: `${u}-${i}`, timestamp: time, properties: { subject: `Hi ${i}`, pad } });
          while (!btoa(JSON.stringify(payload())).includes('+')) pad += '>';
          new window.Image().src = `${url}/v1/pixel/track?data=${btoa(JSON.stringify(payload()))}`;
        }
      },
      [t.p.ingest.url, WRITE_KEY, user, at],
    );
    await leave(pg);
    expect(sent.filter((r) => r.method === 'GET' && /\/v1\/pixel\/track\?data=[^%]*\+/.test(r.path))).toHaveLength(3);
    const got = await settled(user, 3);
    expect(got.map((e) => e.event_id).sort()).toEqual([0, 1, 2].map((i) => `${user}-${i}`));
    for (const e of got) expect(e).toMatchObject({ type: 'track', event: 'Email Opened', user_id: user, timestamp: at, source: 'test' });
    expect(got.map((e) => e.properties.subject).sort()).toEqual(['Hi 0', 'Hi 1', 'Hi 2']);
  });

  it('posthog-js, the page left: its queue and $pageleave go by sendBeacon (gzip, or base64 forms without compression), each event once', async () => {
    for (const [variant, opts] of [
      ['gzip', {}],
      ['base64', { disable_compression: true }],
    ] as const) {
      const user = `phbeacon-${variant}-${randomUUID()}`;
      const { pg, failures } = await page('/posthog.js', user);
      await spyBeacons(pg);
      const device = await pg.evaluate(
        ([host, key, u, o]) => {
          const ph = window.posthog;
          // Batched (its default): the queue waits for its timer, so the page's leaving sends it.
          // The user comes by bootstrap: an identify() sent just before leaving can be lost in
          // posthog-js itself (it gzips an unbatched capture asynchronously, and the page is gone first).
          // The page view is captured here, not by init: its own is deferred, and on a busy machine
          // the page was sometimes gone before posthog-js had queued it (lost in the SDK, not here).
          ph.init(key, { api_host: host, bootstrap: { distinctID: u, isIdentifiedID: true }, autocapture: false, capture_pageview: false, capture_pageleave: true, disable_session_recording: true, advanced_disable_decide: true, opt_out_useragent_filter: true, ...o });
          ph.capture('$pageview');
          ph.capture('Order Completed', { total: 12 });
          ph.capture('Basket Viewed', { items: 1 });
          return ph.get_property('$device_id');
        },
        [t.p.ingest.url, WRITE_KEY, user, opts] as const,
      );
      await leave(pg);
      const got = byKind(await settled(user, 4));
      expect([...got.keys()].sort()).toEqual(['page', 'track:$pageleave', 'track:Basket Viewed', 'track:Order Completed']);
      for (const e of got.values()) expect(e, `${e.type} ${e.event}`).toMatchObject({ user_id: user, anonymous_id: device, source: 'test' });
      expect(got.get('track:$pageleave')!.context).toMatchObject({ page: { url: `${t.siteUrl}/shop` } });
      // The beacons: gzip as text/plain, or data=<base64> as a form with ?compression=base64, types
      // sendBeacon sends without a CORS preflight; the write key travels in them.
      const beacons = await beaconsSent(pg);
      expect(beacons.length).toBeGreaterThan(0);
      for (const b of beacons) {
        expect(b).toMatchObject({ type: variant === 'gzip' ? 'text/plain' : 'application/x-www-form-urlencoded', taken: true });
        expect(new URL(b.url).pathname).toBe('/e/');
        if (variant === 'base64') expect(new URL(b.url).searchParams.get('compression')).toBe('base64');
      }
      // The page sees those it left behind as aborted (it is gone), never as refused.
      expect(failures.filter((f) => !/ -> 200$| net::ERR_ABORTED$/.test(f))).toEqual([]);
    }
  });

  it('@amplitude/analytics-browser flushed by beacon on pagehide, as Amplitude documents it: each event once, with its ids and time', async () => {
    const user = `ampbeacon-${randomUUID()}`;
    const { pg } = await page('/amplitude.js', user);
    await spyBeacons(pg);
    const before = Date.now();
    const device = await pg.evaluate(
      async ([url, key, u]) => {
        const amp = window.amplitude;
        // A long flush interval: nothing leaves before the page does.
        await amp.init(key, u, { serverUrl: `${url}/2/httpapi`, autocapture: false, remoteConfig: { fetchRemoteConfig: false }, flushIntervalMillis: 60_000 }).promise;
        window.addEventListener('pagehide', () => {
          amp.setTransport('beacon');
          amp.flush();
        });
        amp.track('Song Played', { genre: 'jazz' });
        amp.identify(new amp.Identify().set('plan', 'pro'));
        return amp.getDeviceId();
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    await leave(pg);
    // A string body: text/plain, which needs no preflight; the key is the body's api_key.
    expect(await beaconsSent(pg)).toEqual([{ url: `${t.p.ingest.url}/2/httpapi`, type: 'string', taken: true }]);
    const got = byKind(await settled(user, 2));
    expect(got.get('track:Song Played')).toMatchObject({ user_id: user, anonymous_id: device, properties: { genre: 'jazz' }, source: 'test' });
    expect(got.get('identify')).toMatchObject({ user_id: user, anonymous_id: device, traits: { plan: 'pro' } });
    for (const e of got.values()) expect(Date.parse(e.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
    for (const e of got.values()) expect(Date.parse(e.timestamp)).toBeLessThanOrEqual(Date.parse(e.received_at));
  });

  it("mixpanel-browser with api_transport 'sendBeacon', the page left at once: data= forms as text/plain, each event once", async () => {
    const user = `mpbeacon-${randomUUID()}`;
    const { pg } = await page('/mixpanel.js', user);
    await spyBeacons(pg);
    const device = await pg.evaluate(
      ([url, key, u]) => {
        const mp = window.mixpanel;
        mp.init(key, { api_host: url, api_transport: 'sendBeacon', batch_requests: false, persistence: 'localStorage', track_pageview: false });
        mp.identify(u);
        mp.track('Signed Up', { plan: 'team' });
        mp.track('Left', { n: 1 });
        return mp.get_property('$device_id');
      },
      [t.p.ingest.url, WRITE_KEY, user],
    );
    await leave(pg);
    const beacons = await beaconsSent(pg);
    expect(beacons.map((b) => new URL(b.url).pathname).sort()).toEqual(['/engage/', '/track/', '/track/', '/track/']);
    for (const b of beacons) expect(b).toMatchObject({ type: 'string', taken: true });
    // The $identify event and the profile update identify() sends, and the two tracks.
    const got = await settled(user, 4);
    for (const e of got) expect(e, `${e.type} ${e.event}`).toMatchObject({ user_id: user, anonymous_id: device, source: 'test' });
    expect(got.filter((e) => e.type === 'track').map((e) => e.event).sort()).toEqual(['Left', 'Signed Up']);
  });

  it('@snowplow/browser-tracker with keepalive, POST (a JSON body) and eventMethod beacon (GET /i), the page left at once: each event once', async () => {
    for (const [variant, opts] of [
      ['keepalive', { eventMethod: 'post', keepalive: true }],
      // Tracker v4 has no sendBeacon: 'beacon' is a GET by fetch, lost on leaving without keepalive.
      ['beacon', { eventMethod: 'beacon', keepalive: true }],
    ] as const) {
      const user = `spbeacon-${variant}-${randomUUID()}`;
      const { pg } = await page('/snowplow.js', user);
      const sent = sentFrom(pg);
      await pg.evaluate(
        ([url, key, u, o]) => {
          const sp = window.snowplowBrowserTracking;
          sp.newTracker(`sp-${o.eventMethod}`, url, { appId: key, bufferSize: 1, stateStorageStrategy: 'none', ...o });
          sp.setUserId(u);
          sp.trackPageView();
          sp.trackStructEvent({ category: 'shop', action: 'add-to-basket', label: 'sku-1', value: 2 });
        },
        [t.p.ingest.url, WRITE_KEY, user, opts] as const,
      );
      // GET sends one event per request, one request at a time: an event queued behind one in flight
      // (here in memory only) would go with the page. So the page goes once both are on their way.
      if (variant === 'beacon') await expect.poll(() => sent.filter((r) => r.method === 'GET' && r.path.startsWith('/i?')).length).toBe(2);
      await leave(pg);
      const got = byKind(await settled(user, 2));
      expect(got.get('page')).toMatchObject({ name: 'Shop', user_id: user, source: 'test' });
      expect(got.get('track:add-to-basket')).toMatchObject({ user_id: user, category: 'shop' });
      // The tracker's own event ids.
      for (const e of got.values()) expect(e.event_id).toMatch(/^[0-9a-f-]{36}$/);
      if (variant === 'keepalive') {
        expect(sent.filter((r) => r.method === 'POST' && r.path.startsWith('/com.snowplowanalytics.snowplow/tp2') && r.contentType.startsWith('application/json')).length).toBeGreaterThan(0);
      }
    }
  });

  it('analytics.js (@segment/analytics-next) batching with keepalive: the page left sends the batch, a hidden-then-visible page sends it twice, each event stored once', async () => {
    for (const leaveBy of ['navigation', 'hidden then visible'] as const) {
      const user = `ajskeep-${leaveBy.replaceAll(' ', '-')}-${randomUUID()}`;
      const { pg } = await page('/analytics.js', user);
      const sent = sentFrom(pg);
      const ids = await pg.evaluate(
        async ([cdnURL, key, u]) => {
          const [ajs] = await window.AnalyticsNext.AnalyticsBrowser.load(
            { writeKey: key, cdnURL },
            { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 10, timeout: 2_000, keepalive: true } } } } },
          );
          const calls = [ajs.identify(u, { plan: 'pro' }), ajs.track('Order Completed', { total: 12 }), ajs.page('Shop')];
          return (await Promise.all(calls)).map((ctx: any) => ctx.event.messageId as string);
        },
        [t.p.ingest.url, WRITE_KEY, user],
      );
      if (leaveBy === 'navigation') await leave(pg);
      else {
        // What a tab switch does to the page (headless Chromium never hides it by itself).
        const show = (state: string) =>
          pg.evaluate((st) => {
            Object.defineProperty(window.document, 'visibilityState', { configurable: true, get: () => st });
            window.document.dispatchEvent(new window.Event('visibilitychange'));
          }, state);
        await show('hidden');
        await expect.poll(() => sent.filter((r) => r.method === 'POST' && r.path === '/v1/b').length).toBe(1);
        await show('visible');
        // analytics-next keeps the batch after the hidden page's send and sends it again at its
        // timer: the same messageIds twice, stored once.
        await expect.poll(() => sent.filter((r) => r.method === 'POST' && r.path === '/v1/b').length, { timeout: 10_000 }).toBe(2);
      }
      const got = await settled(user, 3);
      expect(got.map((e) => e.event_id).sort()).toEqual([...ids].sort());
      for (const e of got) expect(e).toMatchObject({ user_id: user, source: 'test' });
    }
  });

  // The same unload transports in Firefox (Debian's firefox-esr, puppeteer-core over WebDriver BiDi,
  // as dashboard-firefox.test.ts drives it), on this block's pipeline and site.
  describe.runIf(firefoxPath() !== null)('in Firefox', () => {
    let firefox: FirefoxBrowser;
    beforeAll(async () => {
      firefox = await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath()!, headless: true });
    }, 120_000);
    afterAll(async () => {
      await firefox?.close();
    });

    it("the page left at once after posthog-js (beacon transport configured), Snowplow and analytics-next (keepalive) calls and two pixels with an unescaped '+': each event stored once, no page error", async () => {
      const context = await firefox.createBrowserContext();
      const pg = await context.newPage();
      const errors: string[] = [];
      pg.on('pageerror', (e) => errors.push(String(e)));
      await pg.goto(`${t.siteUrl}/shop`);
      for (const script of ['/posthog.js', '/snowplow.js', '/analytics.js']) await pg.addScriptTag({ url: `${t.siteUrl}${script}` });
      const user = `ffbeacon-${randomUUID()}`;
      // Evaluated as text: this file is compiled without the DOM's types.
      const ids = (await pg.evaluate(`(async () => {
        const [url, key, u] = ${JSON.stringify([t.p.ingest.url, WRITE_KEY, user])};
        posthog.init(key, { api_host: url, bootstrap: { distinctID: u, isIdentifiedID: true }, autocapture: false, capture_pageview: false,
          capture_pageleave: true, disable_session_recording: true, advanced_disable_decide: true, opt_out_useragent_filter: true, disable_compression: true });
        posthog.capture('PostHog Queued');
        const sp = snowplowBrowserTracking;
        sp.newTracker('ff', url, { appId: key, bufferSize: 1, stateStorageStrategy: 'none', eventMethod: 'post', keepalive: true });
        sp.setUserId(u);
        sp.trackStructEvent({ category: 'shop', action: 'snowplow-kept-alive' });
        const [ajs] = await AnalyticsNext.AnalyticsBrowser.load({ writeKey: key, cdnURL: url },
          { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 10, timeout: 60000, keepalive: true } } } } });
        const ctx = await ajs.track('Segment Batched', {}, { userId: u });
        for (let i = 0; i < 2; i++) {
          let pad = '';
          const payload = () => ({ writeKey: key, userId: u, event: 'Pixel ' + i, messageId: u + '-pixel-' + i, properties: { pad } });
          while (!btoa(JSON.stringify(payload())).includes('+')) pad += '>';
          new Image().src = url + '/v1/pixel/track?data=' + btoa(JSON.stringify(payload()));
        }
        return [ctx.event.messageId];
      })()`)) as string[];
      await pg.goto(`${t.siteUrl}/away`);
      const got = await settled(user, 6);
      expect(got.map((e) => e.event).sort()).toEqual(['Pixel 0', 'Pixel 1', 'PostHog Queued', 'Segment Batched', '$pageleave', 'snowplow-kept-alive'].sort());
      for (const e of got) expect(e, String(e.event)).toMatchObject({ user_id: user, source: 'test' });
      expect(got.find((e) => e.event === 'Segment Batched')!.event_id).toBe(ids[0]);
      expect(errors).toEqual([]);
      await context.close();
    });
  });
});
