// The other vendors' wire forms over HTTP against the real broker: bodies as their clients send
// them (gzip-js, lz64, base64 data= forms, pixels), the shared-path rule, each vendor's answers,
// and the rejected topic, all through the same validation as Segment's endpoints.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import LZString from 'lz-string';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../support/raw-http.js';
import { snowplowMobileEvent, tp2Body } from '../support/vendor-records.js';
import { startTestIngest, TopicReader, WRITE_KEY, type TestIngest } from './ingest-support.js';

/** @segment/analytics-next's browser builds, as installed. */
const UMD = path.dirname(createRequire(import.meta.url).resolve('@segment/analytics-next/dist/umd/standalone.js'));

let ingest: TestIngest;
let reader: TopicReader;
let eventsTopic: string;
let rejectedTopic: string;

beforeAll(async () => {
  ingest = await startTestIngest();
  eventsTopic = ingest.config.kafka.topics.events;
  rejectedTopic = ingest.config.kafka.topics.rejected;
  reader = await new TopicReader(ingest.kafka, [eventsTopic, rejectedTopic]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

interface Answer {
  status: number;
  type: string;
  text: string;
  bytes: Buffer;
  allow: string | null;
}

async function send(method: 'GET' | 'POST' | 'PUT', path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${ingest.url}${path}`, { method, body, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: bytes.toString('utf8'), bytes, allow: res.headers.get('allow') };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Decoded events whose user or anonymous id is `id`. */
async function landed(id: string, count: number) {
  const got = await reader.waitFor(eventsTopic, count, (r) => r.key === id);
  return got.map((r) => reader.codec.decode(r.value));
}

describe('PostHog', () => {
  it('takes posthog-js bodies: gzip-js with no Content-Encoding, lz64 and base64 data= forms, on /e/, /i/v0/e/ and /capture', async () => {
    const user = `phjs-${randomUUID()}`;
    const ev = (n: number) => ({ event: `E${n}`, properties: { distinct_id: user, token: WRITE_KEY, $lib: 'web', n }, timestamp: '2026-11-20T10:00:00.000Z', uuid: `${user}-${n}` });
    const answers = [
      await send('POST', `/e/?compression=gzip-js&ip=1&_=${Date.now()}&ver=1.449.2`, gzipSync(JSON.stringify([ev(1)])), { 'content-type': 'text/plain' }),
      await send('POST', `/i/v0/e/?ip=1&_=${Date.now()}`, form({ data: LZString.compressToBase64(JSON.stringify([ev(2)])), compression: 'lz64' }), FORM),
      await send('POST', '/capture/', form({ data: b64(ev(3)) }), FORM),
      await send('POST', '/e', JSON.stringify({ api_key: WRITE_KEY, batch: [ev(4)] }), { 'content-type': 'application/json' }),
    ];
    expect(answers.map((a) => [a.status, a.text])).toEqual(Array(4).fill([200, '{"status":1}']));
    const got = await landed(user, 4);
    expect(got.map((e) => [e.event_id, e.event, e.source]).sort()).toEqual([1, 2, 3, 4].map((n) => [`${user}-${n}`, `E${n}`, 'test']));
    expect(JSON.parse(got[0]!.properties)).not.toHaveProperty('token');
  });

  it('refuses an unknown or missing token with 401 in PostHog shape, and writes nothing', async () => {
    const a = await send('POST', '/batch/', JSON.stringify({ api_key: 'nope', batch: [{ event: 'x', distinct_id: 'u' }] }));
    expect([a.status, JSON.parse(a.text)]).toEqual([401, { type: 'authentication_error', code: 'invalid_api_key', detail: 'the write key is not known', attr: null }]);
    const b = await send('POST', '/e/', JSON.stringify({ event: 'x', distinct_id: 'u' }));
    expect([b.status, JSON.parse(b.text).code]).toEqual([401, 'invalid_api_key']);
  });

  it("answers posthog-js's remote config (features off, gzip asked) and flags (none) instead of 404, with CORS; an unknown token gets 401", async () => {
    const origin = { origin: 'https://shop.example' };
    const json = await send('GET', `/array/${WRITE_KEY}/config`, undefined, origin);
    expect([json.status, json.type]).toEqual([200, 'application/json']);
    expect(JSON.parse(json.text)).toMatchObject({ token: WRITE_KEY, hasFeatureFlags: false, supportedCompression: ['gzip', 'gzip-js'], sessionRecording: false, analytics: { endpoint: '/i/v0/e/' } });
    const script = await send('GET', `/array/${WRITE_KEY}/config.js`);
    expect([script.status, script.type]).toEqual([200, 'application/javascript']);
    const window: { _POSTHOG_REMOTE_CONFIG?: Record<string, { config: { hasFeatureFlags: boolean } }> } = {};
    new Function('window', script.text)(window);
    expect(window._POSTHOG_REMOTE_CONFIG?.[WRITE_KEY]?.config.hasFeatureFlags).toBe(false);
    const res = await fetch(`${ingest.url}/array/${WRITE_KEY}/config`, { headers: origin });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    await res.arrayBuffer();
    for (const path of ['/flags/?v=2&config=true', '/decide/?v=4']) {
      const f = await send('POST', path, gzipSync(JSON.stringify({ token: WRITE_KEY, distinct_id: 'u' })), { 'content-type': 'text/plain' });
      expect([path, f.status, JSON.parse(f.text)]).toMatchObject([path, 200, { flags: {}, featureFlags: {}, errorsWhileComputingFlags: false }]);
    }
    const unknown = await send('GET', '/array/nope/config');
    expect([unknown.status, JSON.parse(unknown.text).type]).toEqual([401, 'authentication_error']);
    expect((await send('GET', '/array/nope/config.js')).status).toBe(401);
  });

  it("serves posthog-js's bundles from its package at /static/ (PostHog's snippet's array.js, the extensions it loads, also by version and to HEAD), and nothing else there", async () => {
    const installed = readFileSync(createRequire(import.meta.url).resolve('posthog-js/dist/array.js'));
    const version = (createRequire(import.meta.url)('posthog-js/package.json') as { version: string }).version;
    const js = await send('GET', '/static/array.js', undefined, { origin: 'https://shop.example' });
    expect([js.status, js.type]).toEqual([200, 'application/javascript; charset=utf-8']);
    expect(js.bytes.equals(installed)).toBe(true);
    const res = await fetch(`${ingest.url}/static/${version}/surveys.js?v=${version}`, { method: 'HEAD' });
    expect([res.status, res.headers.get('cache-control'), res.headers.get('access-control-allow-origin'), res.headers.get('x-content-type-options')]).toEqual([200, 'public, max-age=3600', '*', 'nosniff']);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(10_000);
    for (const path of ['/static/array.full.js', `/static/${version.split('.')[0]}/array.js`, '/static/exception-autocapture.js?v=1', '/static/web-vitals.js']) {
      expect([path, (await send('GET', path)).status]).toEqual([path, 200]);
    }
    // Not listed, not installed, another version, or out of the package: the edge's 404.
    for (const path of ['/static/recorder.js', '/static/toolbar.js', '/static/array.js.map', '/static/package.json', '/static/0.0.1/array.js', '/static/..%2Fpackage.json', '/static/%2e%2e/package.json', '/static/']) {
      const a = await send('GET', path);
      expect([path, a.status, JSON.parse(a.text).code]).toEqual([path, 404, 'not_found']);
    }
    expect((await send('POST', '/static/array.js', '{}')).status).toBe(405);
  });

  it("serves PostHog's V2 snippet's /array/<token>/array.js for a write key: posthog-js's array.js, then the token's config script (as PostHog's server joins them), also to HEAD; an unknown token gets 401", async () => {
    const installed = readFileSync(createRequire(import.meta.url).resolve('posthog-js/dist/array.js'));
    const config = await send('GET', `/array/${WRITE_KEY}/config.js`);
    const js = await send('GET', `/array/${WRITE_KEY}/array.js`, undefined, { origin: 'https://shop.example' });
    expect([js.status, js.type]).toEqual([200, 'application/javascript; charset=utf-8']);
    expect(js.bytes.equals(Buffer.concat([installed, Buffer.from(`\n\n${config.text}`)]))).toBe(true);
    // The config part leaves the token's config where posthog-js looks for it.
    const window: { _POSTHOG_REMOTE_CONFIG?: Record<string, { config: { hasFeatureFlags: boolean; sessionRecording: boolean } }> } = {};
    new Function('window', js.bytes.subarray(installed.length).toString('utf8'))(window);
    expect(window._POSTHOG_REMOTE_CONFIG?.[WRITE_KEY]?.config).toMatchObject({ hasFeatureFlags: false, sessionRecording: false });
    expect((await send('GET', `/array/${WRITE_KEY}/array.js`)).bytes.equals(js.bytes)).toBe(true);
    const res = await fetch(`${ingest.url}/array/${WRITE_KEY}/array.js`, { method: 'HEAD' });
    expect([res.status, res.headers.get('cache-control'), res.headers.get('access-control-allow-origin'), res.headers.get('x-content-type-options')]).toEqual([200, 'public, max-age=3600', '*', 'nosniff']);
    expect(Number(res.headers.get('content-length'))).toBe(js.bytes.length);
    const unknown = await send('GET', '/array/nope/array.js', undefined, { origin: 'https://shop.example' });
    expect([unknown.status, JSON.parse(unknown.text)]).toEqual([401, { type: 'authentication_error', code: 'invalid_api_key', detail: 'the project token in the path is not a known write key', attr: null }]);
    expect((await fetch(`${ingest.url}/array/nope/array.js`, { method: 'HEAD' })).status).toBe(401);
    expect((await send('POST', `/array/${WRITE_KEY}/array.js`, '{}')).status).toBe(405);
  });

  it('keeps the valid events of a batch and writes the invalid one, as sent, to the rejected topic', async () => {
    const user = `phbad-${randomUUID()}`;
    const bad = { event: 'No Id', properties: { marker: user } };
    const a = await send('POST', '/batch/', JSON.stringify({ api_key: WRITE_KEY, batch: [{ event: 'Ok', distinct_id: user }, bad] }));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toMatchObject({ type: 'validation_error', accepted: 1, rejected: [{ index: 1, code: 'missing_id' }] });
    expect(await landed(user, 1)).toHaveLength(1);
    const [rej] = await reader.waitFor(rejectedTopic, 1, (r) => r.value.includes(user));
    expect(JSON.parse(rej!.value.toString())).toEqual(bad);
    expect(rej!.headers).toMatchObject({ error_code: 'missing_id', endpoint: '/batch/', index: '1', source: 'test' });
  });
});

describe('Amplitude', () => {
  it('answers events_ingested on /2/httpapi and /batch (the shared path goes to Amplitude for an events array)', async () => {
    const user = `amp-${randomUUID()}`;
    const body = JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'A', user_id: user, insert_id: `${user}-1` }, { event_type: 'B', user_id: user, insert_id: `${user}-2` }] });
    for (const path of ['/2/httpapi', '/batch']) {
      const a = await send('POST', path, body, { 'content-type': 'application/json' });
      expect(a.status).toBe(200);
      expect(JSON.parse(a.text)).toMatchObject({ code: 200, events_ingested: 2, payload_size_bytes: Buffer.byteLength(body) });
    }
    expect((await landed(user, 4)).map((e) => e.event_id).sort()).toEqual([`${user}-1`, `${user}-1`, `${user}-2`, `${user}-2`]);
  });

  it('refuses the whole request when an event is invalid (nothing of it is written to events), listing it by field', async () => {
    const user = `ampbad-${randomUUID()}`;
    const sentinel = `ampok-${randomUUID()}`;
    const bad = { user_id: user, event_properties: { why: 'no event_type' } };
    const a = await send('POST', '/2/httpapi', JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'Fine', user_id: user }, bad] }));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toMatchObject({
      code: 400,
      error: '1 of 2 events are invalid; nothing of this request was ingested',
      events_with_missing_fields: { event_type: [1] },
      events_with_invalid_fields: {},
    });
    const [rej] = await reader.waitFor(rejectedTopic, 1, (r) => r.value.includes(user));
    expect(JSON.parse(rej!.value.toString())).toEqual(bad);
    // A later request's event has landed, and none of the refused request's did.
    expect((await send('POST', '/2/httpapi', JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'S', user_id: sentinel }] }))).status).toBe(200);
    await landed(sentinel, 1);
    expect(reader.records.filter((r) => r.topic === eventsTopic && r.key === user)).toEqual([]);
  });

  it('answers an unknown key with Amplitude\'s 400 "Invalid API key" and a missing one with missing_field', async () => {
    const a = await send('POST', '/2/httpapi', JSON.stringify({ api_key: 'nope', events: [{ event_type: 'x', user_id: 'u' }] }));
    expect([a.status, JSON.parse(a.text).error]).toEqual([400, 'Invalid API key: the write key is not known']);
    const b = await send('POST', '/2/httpapi', JSON.stringify({ events: [{ event_type: 'x', user_id: 'u' }] }));
    expect([b.status, JSON.parse(b.text)]).toEqual([400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' }]);
  });
});

describe('Mixpanel', () => {
  it('takes /track as a base64 data= form and as JSON, answering 1, or {"status":1} with verbose=1; /track and /engage go to Mixpanel when nothing says PostHog', async () => {
    const user = `mp-${randomUUID()}`;
    const ev = { event: 'Played', properties: { token: WRITE_KEY, distinct_id: user, time: 1795687200, $insert_id: `${user}-1` } };
    const a = await send('POST', '/track', form({ data: b64([ev]) }), FORM);
    const b = await send('POST', '/track/?verbose=1', JSON.stringify([{ ...ev, properties: { ...ev.properties, $insert_id: `${user}-2` } }]), { 'content-type': 'application/json' });
    const c = await send('GET', `/engage/?data=${encodeURIComponent(b64({ $token: WRITE_KEY, $distinct_id: user, $set: { plan: 'pro' } }))}`);
    expect([a.status, a.text, b.status, JSON.parse(b.text), c.status, c.text]).toEqual([200, '1', 200, { status: 1, error: null }, 200, '1']);
    const got = await landed(user, 3);
    expect(got.map((e) => e.type).sort()).toEqual(['identify', 'track', 'track']);
    expect(got.find((e) => e.type === 'track')!.timestamp).toBe(1795687200000); // no send time: not skew-corrected
  });

  it('rejects an event whose token is not a known key, keeps the others; an unknown token alone gets 401 "0"', async () => {
    const user = `mptok-${randomUUID()}`;
    const a = await send('POST', '/track?verbose=1', JSON.stringify([{ event: 'A', properties: { token: WRITE_KEY, distinct_id: user } }, { event: 'B', properties: { token: 'other', distinct_id: user } }]));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toMatchObject({ status: 0 });
    expect((await landed(user, 1)).map((e) => e.event)).toEqual(['A']);
    const [rej] = await reader.waitFor(rejectedTopic, 1, (r) => r.value.includes(user));
    expect(rej!.headers).toMatchObject({ error_code: 'invalid_field', index: '1' });
    const b = await send('POST', '/track', form({ data: b64({ event: 'A', properties: { token: 'nope', distinct_id: user } }) }), FORM);
    expect([b.status, b.text]).toEqual([401, '0']);
  });

  it('/import with Basic auth and a JSON body answers with num_records_imported and failed_records', async () => {
    const user = `mpimp-${randomUUID()}`;
    const auth = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`, 'content-type': 'application/json' };
    const a = await send('POST', '/import?strict=1&project_id=1', JSON.stringify([{ event: 'Old', properties: { distinct_id: user, time: 1600000000000, $insert_id: `${user}-1` } }, { event: 'Bad', properties: { time: 1 } }]), auth);
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toMatchObject({ code: 400, num_records_imported: 1, failed_records: [{ index: 1, field: 'properties.distinct_id' }] });
    const [e] = await landed(user, 1);
    expect([e!.event_id, e!.timestamp]).toEqual([`${user}-1`, 1600000000000]);
  });
});

describe('Snowplow and pixels', () => {
  it('GET /i answers a 1x1 GIF; tp2 events are corrected for a device clock a day off', async () => {
    const user = `sp-${randomUUID()}`;
    const pixel = await send('GET', `/i?e=pv&url=${encodeURIComponent('https://x.example/')}&page=Home&aid=${WRITE_KEY}&duid=${user}&eid=${user}-1&p=web&tv=js-4.10.1`);
    expect([pixel.status, pixel.type, pixel.bytes.subarray(0, 6).toString()]).toEqual([200, 'image/gif', 'GIF89a']);
    const dayOff = Date.now() - 86_400_000;
    const tp2 = {
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: [{ e: 'se', se_ca: 'shop', se_ac: 'buy', aid: WRITE_KEY, duid: user, eid: `${user}-2`, dtm: String(dayOff - 5000), stm: String(dayOff) }],
    };
    const post = await send('POST', '/com.snowplowanalytics.snowplow/tp2', JSON.stringify(tp2), { 'content-type': 'application/json; charset=UTF-8' });
    expect([post.status, post.text]).toEqual([200, 'ok']);
    const got = new Map((await landed(user, 2)).map((e) => [e.event_id, e]));
    expect(got.get(`${user}-1`)).toMatchObject({ type: 'page', name: 'Home', anonymous_id: user, source: 'test' });
    const se = got.get(`${user}-2`)!;
    expect(se).toMatchObject({ type: 'track', event: 'buy', category: 'shop', sent_at: dayOff });
    expect(se.timestamp).toBe(se.received_at - 5000);
  });

  it('takes the User-Agent header as the user agent of events without ua, and fills no address under SP-Anonymous, as Snowplow\'s collector does', async () => {
    const user = `spua-${randomUUID()}`;
    const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
    // What @snowplow/browser-tracker sends: no ua parameter (the browser's header says it).
    const pixel = await send('GET', `/i?e=pv&aid=${WRITE_KEY}&duid=${user}&eid=${user}-1&url=${encodeURIComponent('https://x.example/')}`, undefined, { 'user-agent': BROWSER });
    const tp2 = (n: number, extra: object) => JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [{ e: 'se', se_ca: 'c', se_ac: 'a', aid: WRITE_KEY, duid: user, eid: `${user}-${n}`, ...extra }] });
    // withServerAnonymisation: the tracker adds SP-Anonymous: *; an event's own ip (setIpAddress) is still kept.
    const anonymous = await send('POST', '/com.snowplowanalytics.snowplow/tp2', tp2(2, {}), { 'content-type': 'application/json', 'user-agent': BROWSER, 'sp-anonymous': '*' });
    const own = await send('POST', '/com.snowplowanalytics.snowplow/tp2', tp2(3, { ua: 'set-by-setUseragent', ip: '198.51.100.7' }), { 'content-type': 'application/json', 'user-agent': BROWSER, 'sp-anonymous': '*' });
    expect([pixel.status, anonymous.status, own.status]).toEqual([200, 200, 200]);
    const got = new Map((await landed(user, 3)).map((e) => [e.event_id, JSON.parse(e.context) as Record<string, unknown>]));
    expect(got.get(`${user}-1`)).toMatchObject({ userAgent: BROWSER, ip: '127.0.0.1' });
    expect(got.get(`${user}-2`)!.userAgent).toBe(BROWSER);
    expect(got.get(`${user}-2`)).not.toHaveProperty('ip');
    expect(got.get(`${user}-3`)).toMatchObject({ userAgent: 'set-by-setUseragent', ip: '198.51.100.7' });
  });

  it("stores snowplow-android-tracker's events (no duid: the client_session entity's userId is the device) instead of refusing them", async () => {
    // As the mobile trackers send them (snowplowMobileEvent): the install's id in client_session.userId.
    const device = randomUUID();
    const now = Date.now();
    const event = (eid: string, extra: object) =>
      snowplowMobileEvent({ userId: device, sessionId: randomUUID() }, { eid, aid: WRITE_KEY, dtm: String(now - 2000), stm: String(now), ...extra });
    const body = tp2Body([event(`${device}-1`, {}), event(`${device}-2`, { uid: `u-${device}` })]);
    const a = await send('POST', '/com.snowplowanalytics.snowplow/tp2', body, { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'okhttp/4.12.0' });
    expect([a.status, a.text]).toEqual([200, 'ok']);
    const [anon] = await landed(device, 1);
    const [known] = await landed(`u-${device}`, 1);
    expect(anon).toMatchObject({ type: 'screen', user_id: null, anonymous_id: device, event_id: `${device}-1` });
    expect(known).toMatchObject({ type: 'screen', user_id: `u-${device}`, anonymous_id: device, event_id: `${device}-2` });
    expect(JSON.parse(anon!.properties)).toMatchObject({ name: 'Checkout' });
    expect(anon!.timestamp).toBe(anon!.received_at - 2000);
  });

  it('an unknown app id is refused (401) and an unknown event type goes to the rejected topic (400)', async () => {
    expect((await send('GET', '/i?e=pv&aid=nope&duid=x')).status).toBe(401);
    const user = `spbad-${randomUUID()}`;
    const a = await send('GET', `/i?e=zz&aid=${WRITE_KEY}&duid=${user}`);
    expect([a.status, JSON.parse(a.text).rejected[0].code]).toEqual([400, 'unknown_type']);
    const [rej] = await reader.waitFor(rejectedTopic, 1, (r) => r.value.includes(user));
    expect(JSON.parse(rej!.value.toString())).toMatchObject({ e: 'zz', duid: user });
  });

  it('GET /v1/pixel/track?data=<base64> (Segment email opens) answers a GIF and writes the track call', async () => {
    const user = `px-${randomUUID()}`;
    const a = await send('GET', `/v1/pixel/track?data=${encodeURIComponent(b64({ writeKey: WRITE_KEY, userId: user, event: 'Email Opened', properties: { campaign: 'c1' } }))}`);
    expect([a.status, a.type]).toEqual([200, 'image/gif']);
    const [e] = await landed(user, 1);
    expect(e).toMatchObject({ type: 'track', event: 'Email Opened', source: 'test' });
    expect(JSON.parse(e!.properties)).toEqual({ campaign: 'c1' });
  });
});

describe('Jitsu', () => {
  it('takes /api/s/<call> and /api/s/s2s/<call> with the key in X-Write-Key (whole, or id:secret), the call from the path', async () => {
    const user = `jt-${randomUUID()}`;
    const event = (extra: object) => JSON.stringify({ userId: user, writeKey: 'masked:***', ...extra });
    const a = await send('POST', '/api/s/track', event({ type: 'track', event: 'Viewed' }), { 'x-write-key': `${WRITE_KEY}:secret`, 'content-type': 'application/json' });
    const b = await send('POST', '/api/s/s2s/identify/', event({ traits: { plan: 'pro' } }), { 'x-write-key': WRITE_KEY });
    expect([a.status, a.text, b.status, b.text]).toEqual([200, '{"success":true}', 200, '{"success":true}']);
    const got = await landed(user, 2);
    expect(got.map((e) => [e.type, e.event, e.source]).sort()).toEqual([['identify', null, 'test'], ['track', 'Viewed', 'test']]);
  });

  it('refuses an unknown X-Write-Key before the body (401) and says where a missing key goes; other methods get 405', async () => {
    const unknown = await send('POST', '/api/s/track', JSON.stringify({ userId: 'u', event: 'e' }), { 'x-write-key': 'nobody:secret' });
    expect([unknown.status, JSON.parse(unknown.text).code]).toEqual([401, 'unknown_write_key']);
    const missing = await send('POST', '/api/s/s2s/track', JSON.stringify({ userId: 'u', event: 'e' }));
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text).error).toContain('X-Write-Key');
    const get = await send('GET', '/api/s/track');
    expect([get.status, get.allow]).toEqual([405, 'POST, OPTIONS']);
    expect((await send('POST', '/api/s/batch', '{}', { 'x-write-key': WRITE_KEY })).status).toBe(404);
  });

  it("serves Jitsu's p.js from its package, as a cacheable script, also to HEAD", async () => {
    const js = await send('GET', '/p.js');
    expect([js.status, js.type]).toEqual([200, 'application/javascript; charset=utf-8']);
    expect(js.text).toContain('/api/s/');
    expect(js.bytes.length).toBeGreaterThan(10_000);
    const head = await fetch(`${ingest.url}/p.js`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), head.headers.get('cache-control')]).toEqual([200, String(js.bytes.length), 'public, max-age=3600']);
  });
});

// Segment's snippet loads <cdn>/analytics.js/v1/<key>/analytics.min.js, which lazy-loads chunks from
// <cdn>/analytics-next/bundles/ (src/ingest/analytics-script.ts); the page test is ingest-browser.
describe("analytics.js at the paths Segment's snippet loads it from", () => {
  const script = `/analytics.js/v1/${WRITE_KEY}/analytics.min.js`;
  const chunk = readdirSync(UMD).find((f) => /^queryString\.bundle\.[0-9a-f]+\.js$/.test(f))!;

  it('serves the standalone build for a known key, short-cached, gzipped when asked; an unknown key gets 401 as its settings do', async () => {
    const [plain, gz, unknown] = await exchange(ingest.handle.port, [
      { method: 'GET', path: script, headers: {} },
      { method: 'GET', path: script, headers: { 'Accept-Encoding': 'gzip, deflate, br' } },
      { method: 'GET', path: '/analytics.js/v1/nobody/analytics.min.js', headers: {} },
    ]);
    expect([plain!.status, plain!.headers['content-type'], plain!.headers['cache-control'], plain!.headers['content-encoding']]).toEqual([200, 'application/javascript; charset=utf-8', 'public, max-age=300', undefined]);
    // The package's build, after the few bytes that let it find its CDN on plain http.
    expect(plain!.bodyBytes.toString('utf8')).toContain(readFileSync(`${UMD}/standalone.js`, 'utf8').slice(0, 2000));
    expect([gz!.status, gz!.headers['content-encoding'], gz!.headers.vary, gz!.headers['x-content-type-options']]).toEqual([200, 'gzip', 'Accept-Encoding', 'nosniff']);
    expect(gunzipSync(gz!.bodyBytes).equals(plain!.bodyBytes)).toBe(true);
    expect([unknown!.status, JSON.parse(unknown!.body).code]).toEqual([401, 'unknown_write_key']);
  });

  it('serves only dist/umd files as chunks, the hashed ones cached for good; no other name, nor a path out of it', async () => {
    const paths = [`/analytics-next/bundles/${chunk}`, `/analytics-next/bundles/${chunk}.map`, '/analytics-next/bundles/nope.bundle.0123456789abcdef.js', '/analytics-next/bundles/..%2Fpackage.json', '/analytics-next/bundles/%2E%2E%2F%2E%2E%2Fpackage.json', '/analytics-next/bundles/../../package.json', `/analytics-next/bundles/${chunk}.gz`];
    const answers = await exchange(ingest.handle.port, paths.map((path) => ({ method: 'GET', path, headers: { 'Accept-Encoding': 'gzip;q=0' } })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404, 404, 404, 404, 404]);
    expect([answers[0]!.headers['content-type'], answers[0]!.headers['cache-control'], answers[0]!.headers['content-encoding']]).toEqual(['application/javascript; charset=utf-8', 'public, max-age=31536000, immutable', undefined]);
    expect(answers[0]!.bodyBytes.equals(readFileSync(`${UMD}/${chunk}`))).toBe(true);
    expect(answers[1]!.headers['content-type']).toBe('application/json; charset=utf-8');
  });
});

describe('refusals in vendor terms', () => {
  // normalizeEvent checks the Segment call each translator makes: its reasons named Segment's
  // fields ("userId is longer than ..."), which none of these clients sent.
  it("refuses an id over 8192 characters naming the vendor's own field, in each vendor's answer and the rejected record", async () => {
    const long = `idlong-${randomUUID()}-${'x'.repeat(8192)}`;
    const ph = await send('POST', '/batch/', JSON.stringify({ api_key: WRITE_KEY, batch: [{ event: 'Long', distinct_id: long }] }));
    expect([ph.status, JSON.parse(ph.text).rejected]).toEqual([400, [{ index: 0, code: 'invalid_field', error: 'distinct_id is longer than 8192 characters', field: 'distinct_id' }]]);
    const [rej] = await reader.waitFor(rejectedTopic, 1, (r) => r.value.includes(long) && r.headers.endpoint === '/batch/');
    expect([rej!.headers.error_code, rej!.headers.reason]).toEqual(['invalid_field', 'distinct_id is longer than 8192 characters']);
    const amp = await send('POST', '/2/httpapi', JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'Long', user_id: 'u1', device_id: long }] }));
    expect([amp.status, JSON.parse(amp.text).events_with_invalid_fields]).toEqual([400, { device_id: [0] }]);
    const auth = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`, 'content-type': 'application/json' };
    const mp = await send('POST', '/import?strict=1&project_id=1', JSON.stringify([{ event: 'Long', properties: { distinct_id: long, time: 1600000000000 } }]), auth);
    expect([mp.status, JSON.parse(mp.text).failed_records]).toEqual([400, [{ index: 0, field: 'properties.distinct_id', message: 'properties.distinct_id is longer than 8192 characters' }]]);
    const sp = await send('POST', '/com.snowplowanalytics.snowplow/tp2', tp2Body([{ e: 'pv', aid: WRITE_KEY, p: 'web', tv: 'js-3', uid: long }]), { 'content-type': 'application/json' });
    expect([sp.status, JSON.parse(sp.text).rejected]).toEqual([400, [{ index: 0, code: 'invalid_field', error: 'uid is longer than 8192 characters', field: 'uid' }]]);
  });
});

describe('shared rules', () => {
  it('takes Unix-ms times with a fraction (to the ms below, where they made a 500), while Segment calls still refuse a number as timestamp', async () => {
    const user = `frac-${randomUUID()}`;
    const ph = await send('POST', '/batch/', JSON.stringify({ api_key: WRITE_KEY, batch: [{ event: 'Frac', distinct_id: user, timestamp: Date.UTC(2026, 10, 20, 10) + 0.75 }] }));
    const amp = await send('POST', '/2/httpapi', JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'Frac', user_id: user, time: Date.UTC(2026, 10, 20, 11) + 0.5 }] }));
    expect([ph.status, amp.status]).toEqual([200, 200]);
    const got = await landed(user, 2);
    expect(got.map((e) => e.timestamp).sort()).toEqual([Date.UTC(2026, 10, 20, 10), Date.UTC(2026, 10, 20, 11)]);
    // Segment's calls still take ISO 8601 text only: a number is refused (400), not taken as ms.
    const seg = await send('POST', '/v1/batch', JSON.stringify({ writeKey: WRITE_KEY, batch: [{ type: 'track', event: 'x', userId: user, timestamp: 1e-7 }] }));
    expect([seg.status, JSON.parse(seg.text).rejected?.[0]?.code]).toEqual([400, 'invalid_timestamp']);
  });

  it('refuses bodies over 500 KB with 413, unknown encodings with 415 and wrong methods with 405 and the path\'s Allow, in each vendor\'s shape', async () => {
    const big = JSON.stringify({ api_key: WRITE_KEY, events: [{ event_type: 'x', user_id: 'u', event_properties: { pad: 'x'.repeat(600_000) } }] });
    const a = await send('POST', '/2/httpapi', big);
    expect([a.status, JSON.parse(a.text).code]).toEqual([413, 413]);
    const b = await send('POST', '/e/', '{}', { 'content-encoding': 'br' });
    expect([b.status, JSON.parse(b.text).code]).toEqual([415, 'unsupported_encoding']);
    const c = await send('GET', '/batch');
    expect([c.status, JSON.parse(c.text).code, c.allow]).toEqual([405, 'method_not_allowed', 'POST, OPTIONS']);
    // Allow names the methods of each path: pixels are GET (and HEAD) only, Mixpanel's /track takes both.
    const d = await send('POST', '/i', '{}');
    expect([d.status, d.allow]).toEqual([405, 'GET, HEAD, OPTIONS']);
    const e = await send('PUT', '/track', '{}');
    expect([e.status, e.allow]).toEqual([405, 'GET, HEAD, POST, OPTIONS']);
  });
});
