// The official Segment Node SDK, unchanged, pointed at the edge: its calls reach Kafka whole.
import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestIngest, TopicReader, type TestIngest } from './ingest-support.js';

let ingest: TestIngest;
let reader: TopicReader;

beforeAll(async () => {
  ingest = await startTestIngest();
  reader = await new TopicReader(ingest.kafka, [ingest.config.kafka.topics.events]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

it('@segment/analytics-node delivers track, identify, page and group calls end to end', async () => {
  const user = `sdk-${randomUUID()}`;
  const started = Date.now();
  const analytics = new Analytics({ writeKey: 'test-write-key', host: ingest.url, path: '/v1/batch', flushAt: 4, flushInterval: 200, maxRetries: 1 });
  const statuses: number[] = [];
  analytics.on('http_response', (r) => statuses.push(r.status));
  const errors: unknown[] = [];
  analytics.on('error', (e) => errors.push(e));

  const clientTime = new Date('2030-05-01T10:00:00.000Z');
  analytics.track({ userId: user, event: 'Order Completed', properties: { total: 12.5, category: 'books' }, timestamp: clientTime });
  analytics.identify({ userId: user, traits: { email: 'sdk@example.com', plan: 'pro' } });
  analytics.page({ userId: user, name: 'Checkout', properties: { path: '/checkout' } });
  analytics.group({ userId: user, groupId: 'acme-co', traits: { employees: 40 } });
  await analytics.closeAndFlush({ timeout: 30_000 });

  expect(errors).toEqual([]);
  expect(statuses).toEqual([200]);
  const got = (await reader.waitFor(ingest.config.kafka.topics.events, 4, (r) => r.key === user)).map((r) => reader.codec.decode(r.value));
  const byType = new Map(got.map((e) => [e.type, e]));
  expect([...byType.keys()].sort()).toEqual(['group', 'identify', 'page', 'track']);
  for (const e of got) {
    expect(e.source).toBe('test');
    expect(e.user_id).toBe(user);
    expect(e.event_id).toMatch(/^node-next-/); // analytics-node's messageId kept as the event id
    expect(e.sent_at).not.toBeNull();
    // Clock-skew correction keeps the gap the client saw between its timestamp and sentAt; for
    // the calls without an explicit time that timestamp was the SDK's clock during this test.
    const clientTimestamp = e.sent_at! - (e.received_at - e.timestamp);
    if (e.type !== 'track') {
      expect(clientTimestamp).toBeGreaterThanOrEqual(started);
      expect(clientTimestamp).toBeLessThanOrEqual(e.sent_at!);
    }
    expect(JSON.parse(e.context)).toMatchObject({ library: { name: '@segment/analytics-node' } });
    // A server library's calls come from the site's backend: Segment fills no address for them.
    expect(JSON.parse(e.context)).not.toHaveProperty('ip');
  }
  const track = byType.get('track')!;
  expect(track).toMatchObject({ event: 'Order Completed', category: 'books' });
  expect(track.timestamp).toBe(track.received_at - (track.sent_at! - clientTime.getTime()));
  expect(JSON.parse(track.properties)).toEqual({ total: 12.5, category: 'books' });
  expect(JSON.parse(byType.get('identify')!.traits)).toEqual({ email: 'sdk@example.com', plan: 'pro' });
  expect(byType.get('page')).toMatchObject({ name: 'Checkout' });
  expect(byType.get('group')).toMatchObject({ group_id: 'acme-co' });
  expect(JSON.parse(byType.get('group')!.traits)).toEqual({ employees: 40 });
});
