// INGEST_THREADS=2: two edge threads share one port and both serve and deliver.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BASIC, metricsText, metricValue, startTestIngest, TopicReader, trackEvent, type TestIngest } from './ingest-support.js';

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
function postOnNewConnection(port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/track', method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: BASIC } },
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
