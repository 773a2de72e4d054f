// What the ingest stores as JSON text, read back through the query API (the reply's own bytes) and
// from ClickHouse, end to end (ingest -> Kafka -> sink -> chDB -> query): a 64-bit id sent as a
// JSON number keeps its digits, and a lone surrogate (a string cut inside an emoji) is stored as
// U+FFFD rather than as an escape ClickHouse refuses, which made the whole object unreadable.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { wideId } from '../support/hostile-json.js';
import { post, WRITE_KEY } from './ingest-support.js';
import { startPipeline, type Pipeline } from './pipeline-support.js';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
}, 120_000);

afterAll(async () => {
  await p?.close();
});

it('reads a 64-bit id sent as a number (userId, anonymousId, distinct_id) as its digits', async () => {
  const user = wideId();
  const anon = wideId();
  const ph = wideId();
  // Compact, as JSON.stringify would write it, and spaced, as Python's json.dumps does.
  const segment = `{"batch":[{"type":"track","userId":${user},"event":"Viewed","properties":{"n":${user}}},{"type": "identify", "userId": ${user}, "anonymousId": ${anon}, "traits": {"n": ${anon}}}]}`;
  expect((await post(`${p.ingest.url}/v1/batch`, segment)).status).toBe(200);
  const capture = `{"api_key": "${WRITE_KEY}", "batch": [{"event": "Viewed", "distinct_id": ${ph}, "properties": {"n": ${ph}}}]}`;
  expect((await post(`${p.ingest.url}/batch`, capture, { authorization: '' })).status).toBe(200);

  const text = await p.eventsText(user, 2);
  expect(text).toContain(`"anonymous_id":"${anon}"`);
  expect(text).toContain(`"properties":{"n":${user}}`);
  expect(text).toContain(`"traits":{"n":${anon}}`);
  expect(text.match(new RegExp(`"user_id":"${user}"`, 'g'))).toHaveLength(2);
  const captured = await p.eventsText(ph, 1);
  expect(captured).toContain(`"user_id":"${ph}"`);
  expect(captured).toContain(`"properties":{"n":${ph}}`);
});

it('keeps the digits of a batch-level context\'s 64-bit integers in each event, its own context laid over it or not', async () => {
  const user = wideId();
  const build = wideId();
  const device = wideId();
  // The edge keeps a batch context that may hold such a number as text, and lays each event's
  // context over it through that text; parsed as an object, every event's copy would be rounded.
  const body =
    `{"batch":[{"type":"track","userId":"${user}","event":"Plain"},` +
    `{"type":"track","userId":"${user}","event":"Own","context":{"device":{"id":${device}}}},` +
    `{"type":"track","userId":"${user}","event":"Small","context":{"locale":"fr"}}],` +
    `"context":{"app":{"build":${build}},"device":{"id":1}}}`;
  expect((await post(`${p.ingest.url}/v1/batch`, body)).status).toBe(200);
  // Each wide number of the reply's own bytes read as its digits (JSON.parse would round it).
  const text = (await p.eventsText(user, 3)).replace(/:(\d{16,})(?=[,}])/g, ':"$1"');
  const { events } = JSON.parse(text) as { events: { event: string; context: Record<string, unknown> }[] };
  const contexts = Object.fromEntries(events.map(({ event, context: { ip, ...rest } }) => [event, rest]));
  expect(contexts).toEqual({
    Plain: { app: { build }, device: { id: 1 } },
    Own: { app: { build }, device: { id: device } },
    Small: { app: { build }, device: { id: 1 }, locale: 'fr' },
  });
});

it('stores a lone surrogate as U+FFFD, so properties and context stay readable in the query API and ClickHouse', async () => {
  const user = `lone-${wideId()}`;
  // As JSON.stringify writes a string cut after the first half of 😀 ("\ud83d"), beside a whole
  // pair, an escaped backslash before "ud800" (text, not an escape) and a lone second half.
  const segment = `{"userId":"${user}","event":"Viewed","properties":{"title":"Caf\\ud83d","pair":"\\ud83d\\ude00","text":"\\\\ud800","end":"x\\udc00"},"context":{"page":{"title":"\\ud83d"}}}`;
  expect((await post(`${p.ingest.url}/v1/track`, segment)).status).toBe(200);
  const capture = `{"api_key":"${WRITE_KEY}","event":"Clicked","distinct_id":"${user}","properties":{"$current_url":"https://shop.example/\\udc00","label":"\\ud800!"}}`;
  expect((await post(`${p.ingest.url}/i/v0/e/`, capture, { authorization: '' })).status).toBe(200);

  const text = await p.eventsText(user, 2);
  expect(text).not.toContain('"properties":null');
  expect(text).not.toContain('"context":null');
  expect(text).toContain('"properties":{"title":"Caf\ufffd","pair":"😀","text":"\\\\ud800","end":"x\ufffd"}');
  expect(text).toContain('"page":{"title":"\ufffd"}');
  expect(text).toContain('"label":"\ufffd!"');
  expect(text).toContain('"url":"https://shop.example/\ufffd"');

  const res = await p.clickhouse.query({
    query: `SELECT event, isValidJSON(properties) AS props, isValidJSON(context) AS ctx, JSONExtractString(properties, 'title') AS title
            FROM events WHERE user_id = {user:String} ORDER BY event`,
    query_params: { user },
    format: 'JSONEachRow',
  });
  expect(await res.json()).toEqual([
    { event: 'Clicked', props: 1, ctx: 1, title: '' },
    { event: 'Viewed', props: 1, ctx: 1, title: 'Caf\ufffd' },
  ]);
});

it('refuses properties nested deeper than ClickHouse reads (400, kept in the rejected topic), and stores the deepest it reads', async () => {
  const user = `deep-${wideId()}`;
  // 1023 arrays around a number: the number at depth 1024 of properties, the deepest ClickHouse reads.
  const legal = `{"userId":"${user}","event":"Deepest","properties":{"a":${'['.repeat(1022)}7${']'.repeat(1022)}}}`;
  expect((await post(`${p.ingest.url}/v1/track`, legal)).status).toBe(200);
  const tooDeep = `{"userId":"${user}","event":"Too Deep","messageId":"too-deep-${user}","properties":{"a":${'['.repeat(1023)}7${']'.repeat(1023)}}}`;
  const refused = await post(`${p.ingest.url}/v1/track`, tooDeep);
  expect(refused.status).toBe(400);
  expect(String(refused.body.error)).toContain('nested deeper than 1024 levels');
  const [kept] = await p.rejected.waitFor(p.ingest.config.kafka.topics.rejected, 1, (r) => r.value.toString().includes(`too-deep-${user}`));
  expect(kept!.headers.error_code).toBe('invalid_field');

  const text = await p.eventsText(user, 1);
  expect(text).toContain(`"properties":{"a":${'['.repeat(1022)}7${']'.repeat(1022)}}`);
  const res = await p.clickhouse.query({ query: `SELECT event, isValidJSON(properties) AS ok FROM events WHERE user_id = {user:String}`, query_params: { user }, format: 'JSONEachRow' });
  expect(await res.json()).toEqual([{ event: 'Deepest', ok: 1 }]);
});

it('stores an integer past 64 bits (25 ETH in wei) as the same double in exponent form, which ClickHouse reads', async () => {
  const user = `wei-${wideId()}`;
  // Compact (the scanner's path) and spaced (written again), as JavaScript and Python send them.
  const compact = `{"userId":"${user}","event":"Paid","properties":{"wei":25000000000000000000,"neg":-10000000000000000000,"u64":18446744073709551615}}`;
  const spaced = `{"userId": "${user}", "event": "Refunded", "properties": {"wei": 25000000000000000000, "big": 100000000000000000000}}`;
  expect((await post(`${p.ingest.url}/v1/track`, compact)).status).toBe(200);
  expect((await post(`${p.ingest.url}/v1/track`, spaced)).status).toBe(200);
  const text = await p.eventsText(user, 2);
  expect(text).toContain('"properties":{"wei":2.5e+19,"neg":-1e+19,"u64":18446744073709551615}');
  expect(text).toContain('"properties":{"wei":2.5e+19,"big":1e+20}');
  const res = await p.clickhouse.query({
    query: `SELECT event, isValidJSON(properties) AS ok, JSONExtractFloat(properties, 'wei') AS wei FROM events WHERE user_id = {user:String} ORDER BY event`,
    query_params: { user },
    format: 'JSONEachRow',
  });
  expect(await res.json()).toEqual([
    { event: 'Paid', ok: 1, wei: 25000000000000000000 },
    { event: 'Refunded', ok: 1, wei: 25000000000000000000 },
  ]);
});
