// The ingest edge against the real broker: what each endpoint writes to Kafka, in what order
// and under which key, and what every kind of bad input gets back and leaves in the rejected topic.
import { randomUUID } from 'node:crypto';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/kafka/index.js';
import {
  BASIC,
  metricsText,
  metricValue,
  post,
  postJson,
  startTestIngest,
  TopicReader,
  trackEvent,
  type TestIngest,
} from './ingest-support.js';

/** What a cut-off gzip stream decompresses to so far. */
const gunzipPartial = (b: Buffer) => {
  try {
    return gunzipSync(b, { finishFlush: constants.Z_SYNC_FLUSH }).toString('latin1');
  } catch {
    return '';
  }
};

let ingest: TestIngest;
let reader: TopicReader;
let events: string;
let rejected: string;

beforeAll(async () => {
  ingest = await startTestIngest();
  events = ingest.config.kafka.topics.events;
  rejected = ingest.config.kafka.topics.rejected;
  reader = await new TopicReader(ingest.kafka, [events, rejected]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

describe('every endpoint delivers to Kafka', () => {
  it('single-event endpoints, their one-letter aliases and the batch endpoints all land, decoded and keyed by user', async () => {
    const p = `ep-${randomUUID()}-`;
    const calls: [string, Record<string, unknown>][] = [
      ['track', { messageId: `${p}track`, userId: 'u-1', event: 'Signed Up', properties: { plan: 'pro', category: 'saas' } }],
      ['t', { messageId: `${p}t`, anonymousId: 'anon-1', event: 'Clicked' }],
      ['identify', { messageId: `${p}identify`, userId: 'u-1', traits: { email: 'a@example.com' } }],
      ['i', { messageId: `${p}i`, userId: 42, traits: { n: 1 } }],
      ['page', { messageId: `${p}page`, userId: 'u-1', name: 'Home', properties: { path: '/' } }],
      ['p', { messageId: `${p}p`, anonymousId: 'anon-1', properties: { name: 'Pricing', category: 'docs' } }],
      ['screen', { messageId: `${p}screen`, userId: 'u-2', name: 'Settings' }],
      ['s', { messageId: `${p}s`, userId: 'u-2', name: 'Cart' }],
      ['group', { messageId: `${p}group`, userId: 'u-1', groupId: 'g-9', traits: { name: 'Acme' } }],
      ['g', { messageId: `${p}g`, userId: 'u-1', groupId: 77 }],
      ['alias', { messageId: `${p}alias`, userId: 'u-1', previousId: 'anon-1' }],
      ['a', { messageId: `${p}a`, userId: 'u-3', previousId: 'anon-3' }],
    ];
    for (const [path, body] of calls) {
      const r = await postJson(`${ingest.url}/v1/${path}`, body);
      expect([path, r.status, r.body]).toEqual([path, 200, { success: true }]);
    }
    for (const path of ['batch', 'b', 'import']) {
      const batch = [
        { type: 'track', messageId: `${p}${path}-0`, userId: 'u-4', event: 'Batched', context: { groupId: 'g-ctx' } },
        { type: 'identify', messageId: `${p}${path}-1`, userId: 'u-4' },
      ];
      const r = await postJson(`${ingest.url}/v1/${path}`, { batch });
      expect([path, r.status, r.body]).toEqual([path, 200, { success: true }]);
    }

    const got = new Map((await reader.events(events, p, calls.length + 6)).map((e) => [e.event_id.slice(p.length), e]));
    expect(got.size).toBe(calls.length + 6);
    for (const [path, body] of calls) {
      const e = got.get(path)!;
      expect(e.source).toBe('test');
      const userKey = body.userId === undefined ? String(body.anonymousId) : String(body.userId);
      expect(e.key).toBe(userKey);
      // Keyed like Java's DefaultPartitioner: a user's events always share a partition.
      expect(e.partition).toBe(partitionForKey(userKey, ingest.config.kafka.partitions));
    }
    expect(got.get('track')).toMatchObject({ type: 'track', event: 'Signed Up', user_id: 'u-1', category: 'saas' });
    expect(JSON.parse(got.get('track')!.properties)).toEqual({ plan: 'pro', category: 'saas' });
    expect(got.get('t')).toMatchObject({ type: 'track', user_id: null, anonymous_id: 'anon-1' });
    expect(got.get('identify')).toMatchObject({ type: 'identify', traits: '{"email":"a@example.com"}' });
    expect(got.get('i')).toMatchObject({ type: 'identify', user_id: '42' });
    expect(got.get('page')).toMatchObject({ type: 'page', name: 'Home' });
    expect(got.get('p')).toMatchObject({ type: 'page', name: 'Pricing', category: 'docs' });
    expect(got.get('screen')).toMatchObject({ type: 'screen', name: 'Settings' });
    expect(got.get('group')).toMatchObject({ type: 'group', group_id: 'g-9' });
    expect(got.get('g')).toMatchObject({ type: 'group', group_id: '77' });
    expect(got.get('alias')).toMatchObject({ type: 'alias', user_id: 'u-1', previous_id: 'anon-1' });
    for (const path of ['batch', 'b', 'import']) {
      expect(got.get(`${path}-0`)).toMatchObject({ type: 'track', event: 'Batched', group_id: 'g-ctx', key: 'u-4' });
      expect(got.get(`${path}-1`)).toMatchObject({ type: 'identify', key: 'u-4' });
    }
  });

  /** Three users send 20 requests each one after another (users in parallel), then a 50-event batch. */
  async function sendInOrderAndCheck(url: string, reader: TopicReader, topic: string): Promise<void> {
    const p = `order-${randomUUID()}-`;
    const users = ['order-a', 'order-b', 'order-c'].map((u) => `${p}${u}`);
    await Promise.all(
      users.map(async (u) => {
        for (let i = 0; i < 20; i++) {
          const r = await postJson(`${url}/v1/track`, trackEvent(`${u}-${i}`, u, { properties: { seq: i } }));
          expect(r.status).toBe(200);
        }
        const batch = Array.from({ length: 50 }, (_, j) => trackEvent(`${u}-${20 + j}`, u, { properties: { seq: 20 + j } }));
        expect((await postJson(`${url}/v1/batch`, { batch })).status).toBe(200);
      }),
    );
    const got = await reader.events(topic, p, users.length * 70);
    for (const u of users) {
      const seqs = got.filter((e) => e.user_id === u).map((e) => (JSON.parse(e.properties) as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: 70 }, (_, i) => i));
    }
  }

  it("keeps each user's events in the order they were sent, across requests and inside batches", async () => {
    await sendInOrderAndCheck(ingest.url, reader, events);
  });

  it('keeps that order with several producer lanes, each user on one lane', async () => {
    const laned = await startTestIngest({ INGEST_PRODUCER_LANES: '3' });
    const laneReader = await new TopicReader(laned.kafka, [laned.config.kafka.topics.events]).start();
    try {
      await sendInOrderAndCheck(laned.url, laneReader, laned.config.kafka.topics.events);
    } finally {
      await laneReader.stop();
      await laned.close();
    }
  });

  it('corrects the client clock skew with sentAt, stamps received_at, and makes an id when messageId is missing', async () => {
    const user = `skew-${randomUUID()}`;
    const before = Date.now();
    // The client's clock is an hour fast: it says it sent at 13:00:00.500 an event from 13:00:00.000.
    const batch = [
      { type: 'track', userId: user, event: 'Skewed', timestamp: '2030-01-01T13:00:00.000Z', properties: { n: 1 } },
      { type: 'track', userId: user, event: 'Own sentAt', timestamp: '2030-01-01T13:00:00.000+01:00', sentAt: '2030-01-01T12:00:02Z', properties: { n: 2 } },
      { type: 'track', userId: user, event: 'No timestamp', properties: { n: 3 } },
    ];
    expect((await postJson(`${ingest.url}/v1/batch`, { batch, sentAt: '2030-01-01T13:00:00.500Z' })).status).toBe(200);
    expect((await postJson(`${ingest.url}/v1/track`, { userId: user, event: 'Kept', timestamp: '2021-06-01T00:00:00Z', properties: { n: 4 } })).status).toBe(200);
    const after = Date.now();
    const got = (await reader.waitFor(events, 4, (r) => r.key === user)).map((r) => reader.codec.decode(r.value));
    const byN = new Map(got.map((e) => [(JSON.parse(e.properties) as { n: number }).n, e]));
    for (const e of got) {
      expect(e.received_at).toBeGreaterThanOrEqual(before);
      expect(e.received_at).toBeLessThanOrEqual(after);
      expect(e.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(byN.get(1)!.timestamp).toBe(byN.get(1)!.received_at - 500);
    expect(byN.get(1)!.sent_at).toBe(Date.parse('2030-01-01T13:00:00.500Z'));
    expect(byN.get(2)!.timestamp).toBe(byN.get(2)!.received_at - 2_000);
    expect(byN.get(3)!.timestamp).toBe(byN.get(3)!.received_at);
    expect(byN.get(4)!.timestamp).toBe(Date.parse('2021-06-01T00:00:00Z'));
    expect(byN.get(4)!.sent_at).toBeNull();
    expect(new Set(got.map((e) => e.event_id)).size).toBe(4);
  });

  it('takes the write key from the body with text/plain or no content type (sendBeacon, analytics.js), gzip/deflate bodies, and a leading byte order mark', async () => {
    const p = `beacon-${randomUUID()}-`;
    const noAuth = { authorization: '' };
    const beacon = JSON.stringify({ writeKey: 'test-write-key', userId: 'b-1', event: 'Beacon', messageId: `${p}1` });
    expect((await post(`${ingest.url}/v1/t`, beacon, { ...noAuth, 'content-type': 'text/plain;charset=UTF-8' })).status).toBe(200);
    const res = await fetch(`${ingest.url}/v1/track`, {
      method: 'POST',
      body: new Blob([JSON.stringify({ writeKey: 'test-write-key', userId: 'b-1', event: 'Bare', messageId: `${p}2` })]),
    });
    expect(res.status).toBe(200);
    const gz = gzipSync(JSON.stringify({ batch: [trackEvent(`${p}3`, 'b-1')] }));
    expect((await post(`${ingest.url}/v1/batch`, gz, { 'content-encoding': 'gzip' })).status).toBe(200);
    const { deflateSync, deflateRawSync } = await import('node:zlib');
    expect((await post(`${ingest.url}/v1/track`, deflateSync(JSON.stringify(trackEvent(`${p}4`, 'b-1'))), { 'content-encoding': 'deflate' })).status).toBe(200);
    expect((await post(`${ingest.url}/v1/track`, deflateRawSync(JSON.stringify(trackEvent(`${p}5`, 'b-1'))), { 'content-encoding': 'deflate' })).status).toBe(200);
    // A body that starts with a UTF-8 byte order mark (some Windows clients send one), plain and gzipped.
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect((await post(`${ingest.url}/v1/track`, Buffer.concat([bom, Buffer.from(JSON.stringify(trackEvent(`${p}6`, 'b-1')))]))).status).toBe(200);
    expect((await post(`${ingest.url}/v1/batch`, gzipSync(Buffer.concat([bom, Buffer.from(JSON.stringify({ batch: [trackEvent(`${p}7`, 'b-1')] }))])), { 'content-encoding': 'gzip' })).status).toBe(200);
    expect(await reader.events(events, p, 7)).toHaveLength(7);
  });

  it('answers CORS preflights and sets Access-Control-Allow-Origin on replies', async () => {
    const pre = await fetch(`${ingest.url}/v1/batch`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type,authorization');
    const r = await post(`${ingest.url}/v1/track`, JSON.stringify(trackEvent(randomUUID(), 'cors')), { origin: 'https://shop.example.com' });
    expect(r.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    const bad = await post(`${ingest.url}/v1/track`, '{', { origin: 'https://shop.example.com' });
    expect(bad.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
  });
});

describe('bad input', () => {
  /** Waits for the rejected record carrying `marker` in its value. */
  const rejectedWith = async (marker: string) => (await reader.waitFor(rejected, 1, (r) => r.value.includes(marker)))[0]!;

  it('each kind of bad body gets its status and a JSON body naming the problem, and lands in the rejected topic', async () => {
    const m = randomUUID();
    const example = 'such as 2026-08-01T12:00:00.000Z (or with an offset, +02:00; a time without a zone is UTC)';
    const cases: { name: string; path: string; body: string | Buffer; headers?: Record<string, string>; status: number; code: string; error?: string }[] = [
      { name: 'malformed JSON', path: 'track', body: `{"userId":"${m}_1_",`, status: 400, code: 'malformed_json' },
      { name: 'not UTF-8', path: 'batch', body: Buffer.concat([Buffer.from(`{"m":"${m}_2_`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), status: 400, code: 'not_utf8' },
      { name: 'not an object', path: 'track', body: `["${m}_3_"]`, status: 400, code: 'invalid_body' },
      { name: 'batch without array', path: 'batch', body: `{"batch":{"m":"${m}_4_"}}`, status: 400, code: 'invalid_body' },
      { name: 'track without event', path: 'track', body: `{"userId":"${m}_5_"}`, status: 400, code: 'missing_field' },
      { name: 'no user', path: 'identify', body: `{"traits":{"m":"${m}_6_"}}`, status: 400, code: 'missing_id' },
      { name: 'bad timestamp', path: 'page', body: `{"userId":"${m}_7_","timestamp":"yesterday"}`, status: 400, code: 'invalid_timestamp', error: `timestamp must be an ISO 8601 time ${example}` },
      { name: 'timestamp out of range', path: 'track', body: `{"userId":"${m}_8_","event":"e","timestamp":"2400-01-01T00:00:00Z"}`, status: 400, code: 'invalid_timestamp' },
      { name: 'properties not an object', path: 'track', body: `{"userId":"${m}_9_","event":"e","properties":[1]}`, status: 400, code: 'invalid_field' },
      { name: 'group without groupId', path: 'group', body: `{"userId":"${m}_10_"}`, status: 400, code: 'missing_field' },
      { name: 'alias without previousId', path: 'alias', body: `{"userId":"${m}_11_"}`, status: 400, code: 'missing_field' },
      { name: 'corrupt gzip', path: 'batch', body: Buffer.from(`not gzip ${m}_12_`), headers: { 'content-encoding': 'gzip' }, status: 400, code: 'corrupt_body' },
      { name: 'single event over 32 KB', path: 'track', body: `{"userId":"${m}_13_","event":"e","properties":{"x":"${'a'.repeat(40_000)}"}}`, status: 413, code: 'body_too_large' },
      { name: 'batch over 500 KB', path: 'batch', body: `{"m":"${m}_14_","batch":["${'a'.repeat(600_000)}"]}`, status: 413, code: 'body_too_large' },
      { name: 'gzip bomb', path: 'batch', body: Buffer.concat([gzipSync(`{"m":"${m}_15_","pad":"`), gzipSync(Buffer.alloc(50_000_000, 0x61))]), headers: { 'content-encoding': 'gzip' }, status: 413, code: 'body_too_large' },
      // The answer says how to write a time (a new user's first guess is a word or Unix seconds).
      { name: 'batch sentAt not a time', path: 'batch', body: `{"sentAt":"now","batch":[{"type":"track","userId":"${m}_16_","event":"e"}]}`, status: 400, code: 'invalid_body', error: `sentAt must be an ISO 8601 time ${example}` },
    ];
    for (const c of cases) {
      const r = await post(`${ingest.url}/v1/${c.path}`, c.body, c.headers);
      expect([c.name, r.status, r.body.success, r.body.code]).toEqual([c.name, c.status, false, c.code]);
      expect(typeof r.body.error).toBe('string');
      if (c.error !== undefined) expect([c.name, r.body.error]).toEqual([c.name, c.error]);
    }
    for (const [i, c] of cases.entries()) {
      const marker = `${m}_${i + 1}_`;
      const rec =
        c.headers?.['content-encoding'] === 'gzip' && c.code === 'body_too_large'
          ? (await reader.waitFor(rejected, 1, (r) => r.headers.content_encoding === 'gzip' && gunzipPartial(r.value).includes(marker)))[0]
          : await rejectedWith(marker);
      expect([c.name, rec?.headers.error_code]).toEqual([c.name, c.code]);
      expect(rec!.headers).toMatchObject({ source: 'test', endpoint: `/v1/${c.path}` });
      expect(Date.parse(rec!.headers.received_at!)).toBeGreaterThan(0);
      expect(rec!.headers.reason!.length).toBeGreaterThan(0);
      if (c.code === 'body_too_large') {
        expect(rec!.value.length).toBe(32 * 1024);
        expect(rec!.headers.truncated).toBe('true');
      } else {
        expect(Buffer.compare(rec!.value, Buffer.from(c.body))).toBe(0);
      }
    }
  });

  it('a batch keeps its valid events, reports each invalid one by index with 400, and writes those to the rejected topic', async () => {
    const p = `partial-${randomUUID()}-`;
    const batch = [
      trackEvent(`${p}0`, 'pb'),
      { type: 'track', messageId: `${p}1`, userId: 'pb' },
      trackEvent(`${p}2`, 'pb'),
      { type: 'launch', messageId: `${p}3`, userId: 'pb' },
      'not an event',
      trackEvent(`${p}5`, 'pb', { properties: { blob: 'x'.repeat(40_000) } }),
      trackEvent(`${p}6`, 'pb'),
    ];
    const r = await postJson(`${ingest.url}/v1/batch`, { batch });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ success: false, code: 'invalid_event', accepted: 3 });
    expect(r.body.rejected).toEqual([
      { index: 1, code: 'missing_field', error: expect.any(String) },
      { index: 3, code: 'unknown_type', error: expect.any(String) },
      { index: 4, code: 'not_an_object', error: expect.any(String) },
      { index: 5, code: 'event_too_large', error: expect.any(String) },
    ]);
    const kept = await reader.events(events, p, 3);
    expect(kept.map((e) => e.event_id).sort()).toEqual([`${p}0`, `${p}2`, `${p}6`]);
    const rej = await reader.waitFor(rejected, 4, (x) => x.value.includes(p) || x.value.toString() === '"not an event"');
    const byIndex = new Map(rej.filter((x) => x.headers.index !== undefined).map((x) => [x.headers.index, x]));
    expect(byIndex.get('1')!.headers.error_code).toBe('missing_field');
    expect(JSON.parse(byIndex.get('1')!.value.toString())).toEqual(batch[1]);
    expect(byIndex.get('3')!.headers.error_code).toBe('unknown_type');
    expect(byIndex.get('4')!.value.toString()).toBe('"not an event"');
    expect(byIndex.get('5')!.headers).toMatchObject({ error_code: 'event_too_large', truncated: 'true' });
  });

  it('refuses unknown encodings with 415 and keys with 401 (an unknown key first), and writes nothing for an unauthenticated request', async () => {
    const m = `unauth-${randomUUID()}`;
    const body = JSON.stringify(trackEvent(m, m));
    const cases: [Record<string, string>, string, number, string][] = [
      [{ 'content-encoding': 'br' }, body, 415, 'unsupported_encoding'],
      [{ authorization: '' }, body, 401, 'missing_write_key'],
      [{ authorization: `Basic ${Buffer.from('nope:').toString('base64')}` }, body, 401, 'unknown_write_key'],
      [{ authorization: 'Bearer whatever' }, body, 401, 'unknown_write_key'],
      // An unknown key is told so first, whatever else is wrong with the request.
      [{ authorization: 'Bearer whatever', 'content-encoding': 'br' }, body, 401, 'unknown_write_key'],
      [{ authorization: '' }, JSON.stringify({ ...trackEvent(m, m), writeKey: 'nope' }), 401, 'unknown_write_key'],
      [{ authorization: '' }, `{"writeKey":"test-write-key", broken ${m}`, 400, 'malformed_json'],
    ];
    for (const [headers, b, status, code] of cases) {
      const r = await post(`${ingest.url}/v1/track`, b, headers);
      expect([headers, r.status, r.body.code]).toEqual([headers, status, code]);
    }
    // Basic auth with a password, and the key without the colon, are accepted as Segment does.
    const withPassword = `Basic ${Buffer.from('test-write-key:secret').toString('base64')}`;
    expect((await post(`${ingest.url}/v1/track`, JSON.stringify(trackEvent(`${m}-ok1`, 'ok')), { authorization: withPassword })).status).toBe(200);
    const noColon = `Basic ${Buffer.from('test-write-key').toString('base64')}`;
    expect((await post(`${ingest.url}/v1/track`, JSON.stringify(trackEvent(`${m}-ok2`, 'ok')), { authorization: noColon })).status).toBe(200);
    // A sentinel written after them: once it is in the topic, nothing of the above is.
    const sentinel = `sentinel-${randomUUID()}`;
    expect((await post(`${ingest.url}/v1/track`, `{"s":"${sentinel}"`)).status).toBe(400);
    await rejectedWith(sentinel);
    await reader.events(events, `${m}-ok`, 2);
    expect(reader.records.filter((r) => r.value.includes(m) && !r.value.includes(`${m}-ok`))).toEqual([]);
    const text = await metricsText(ingest.url);
    expect(metricValue(text, 'trackhouse_ingest_unauthenticated_total')).toBeGreaterThanOrEqual(5);
  });

  it('answers unknown paths with 404 and other methods with 405, in JSON', async () => {
    const nf = await fetch(`${ingest.url}/v2/track`, { method: 'POST', body: '{}' });
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ success: false, code: 'not_found' });
    const na = await fetch(`${ingest.url}/v1/track`);
    expect(na.status).toBe(405);
    expect(await na.json()).toMatchObject({ success: false, code: 'method_not_allowed' });
    const slash = await post(`${ingest.url}/v1/track/`, JSON.stringify(trackEvent(randomUUID(), 'slash')));
    expect(slash.status).toBe(200);
  });
});

describe('operations', () => {
  it('serves /healthz, /readyz (Kafka reachable) and /metrics with request, event and produce figures', async () => {
    expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ingest.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { kafka: 'ok' } });
    const before = metricValue(await metricsText(ingest.url), 'trackhouse_ingest_requests_total', 'route="batch"', 'status="200"');
    const batch = Array.from({ length: 10 }, () => trackEvent(randomUUID(), 'metrics'));
    expect((await postJson(`${ingest.url}/v1/batch`, { batch })).status).toBe(200);
    const text = await metricsText(ingest.url);
    expect(metricValue(text, 'trackhouse_ingest_requests_total', 'route="batch"', 'status="200"')).toBe(before + 1);
    expect(metricValue(text, 'trackhouse_ingest_events_accepted_total')).toBeGreaterThanOrEqual(10);
    expect(metricValue(text, 'trackhouse_ingest_produce_seconds_count', 'result="ok"')).toBeGreaterThan(0);
    expect(metricValue(text, 'trackhouse_ingest_produce_batch_records_count')).toBeGreaterThan(0);
    expect(text).toContain('trackhouse_ingest_pending_bytes');
    expect(BASIC).toMatch(/^Basic /);
  });
});
