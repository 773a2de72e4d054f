// INGEST_THREADS=2: two edge threads share one port and both serve and deliver.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BASIC, metricsText, metricValue, startTestIngest, TopicReader, trackEvent, WRITE_KEY, type TestIngest } from './ingest-support.js';

let ingest: TestIngest;
let reader: TopicReader;

beforeAll(async () => {
  ingest = await startTestIngest({ INGEST_THREADS: '2' });
  reader = await new TopicReader(ingest.kafka, [ingest.config.kafka.topics.events]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

/** One request on a connection of its own, so the kernel picks a thread for each. */
function postOnNewConnection(port: number, body: string, path = '/v1/track'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...(path === '/v1/track' ? { authorization: BASIC } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it('both threads accept connections on the same port and their events arrive', async () => {
  const prefix = `threads-${randomUUID()}-`;
  const statuses = await Promise.all(
    Array.from({ length: 60 }, (_, i) => postOnNewConnection(ingest.handle.port, JSON.stringify(trackEvent(`${prefix}${i}`, `t-${i % 7}`)))),
  );
  expect(statuses).toEqual(Array(60).fill(200));

  // /metrics on any thread sums every thread's figures, each labelled with its thread.
  const text = await metricsText(ingest.url);
  const t0 = metricValue(text, 'trackhouse_ingest_requests_total', 'route="track"', 'status="200"', 'thread="0"');
  const t1 = metricValue(text, 'trackhouse_ingest_requests_total', 'route="track"', 'status="200"', 'thread="1"');
  expect(t0 + t1).toBe(60);
  expect(t0).toBeGreaterThan(0);
  expect(t1).toBeGreaterThan(0);
  expect(metricValue(text, 'trackhouse_ingest_events_accepted_total')).toBe(60);

  const got = await reader.events(ingest.config.kafka.topics.events, prefix, 60);
  expect(new Set(got.map((e) => e.event_id)).size).toBe(60);
});

it('gives a PostHog cookieless visitor one anonymous id on every thread (one secret for the process)', async () => {
  const prefix = randomUUID().slice(0, 24);
  const body = (i: number) =>
    JSON.stringify({
      api_key: WRITE_KEY,
      event: 'Viewed',
      uuid: `${prefix}${String(i).padStart(12, '0')}`,
      properties: { distinct_id: '$posthog_cookieless', $cookieless_mode: true, $host: 'www.example.com', $raw_user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' },
    });
  const before = await metricsText(ingest.url);
  const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => postOnNewConnection(ingest.handle.port, body(i), '/e/')));
  expect(statuses).toEqual(Array(40).fill(200));
  const after = await metricsText(ingest.url);
  const served = (t: string) => metricValue(after, 'trackhouse_ingest_events_accepted_total', `thread="${t}"`) - metricValue(before, 'trackhouse_ingest_events_accepted_total', `thread="${t}"`);
  expect(served('0')).toBeGreaterThan(0);
  expect(served('1')).toBeGreaterThan(0);
  const got = await reader.events(ingest.config.kafka.topics.events, prefix, 40);
  const ids = new Set(got.map((e) => e.anonymous_id));
  expect(ids.size).toBe(1);
  expect([...ids][0]).toMatch(/^cookieless_/);
});
