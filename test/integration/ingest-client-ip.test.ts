// context.ip, as Segment fills it: the caller's address when an event has none (INGEST_CLIENT_IP
// says which address, or none), never over what the client sent.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BASIC, post, startTestIngest, TopicReader, trackEvent, type TestIngest } from './ingest-support.js';

const started: { ingest: TestIngest; reader: TopicReader }[] = [];
afterAll(async () => {
  for (const s of started) {
    await s.reader.stop();
    await s.ingest.close();
  }
});

/** The context each of three calls landed with: no context, context.ip set, and a batch. */
async function contexts(mode: string, headers: Record<string, string>): Promise<Record<string, unknown>[]> {
  const ingest = await startTestIngest({ INGEST_CLIENT_IP: mode });
  const topic = ingest.config.kafka.topics.events;
  const reader = await new TopicReader(ingest.kafka, [topic]).start();
  started.push({ ingest, reader });
  const p = `ip-${mode}-${randomUUID()}-`;
  const sent = [
    await post(`${ingest.url}/v1/track`, JSON.stringify(trackEvent(`${p}0`, 'u1', { context: undefined })), { authorization: BASIC, ...headers }),
    await post(`${ingest.url}/v1/track`, JSON.stringify(trackEvent(`${p}1`, 'u1', { context: { ip: '198.51.100.7' } })), { authorization: BASIC, ...headers }),
    await post(
      `${ingest.url}/v1/batch`,
      JSON.stringify({ batch: [trackEvent(`${p}2`, 'u2', { context: undefined })], context: { library: { name: 'lib' } } }),
      { authorization: BASIC, ...headers },
    ),
  ];
  expect(sent.map((r) => r.status)).toEqual([200, 200, 200]);
  const got = await reader.events(topic, p, 3);
  return [0, 1, 2].map((i) => JSON.parse(got.find((e) => e.event_id === `${p}${i}`)!.context) as Record<string, unknown>);
}

describe('context.ip', () => {
  it('socket (the default): the connection peer, whatever X-Forwarded-For says', async () => {
    const [none, own, batch] = await contexts('socket', { 'x-forwarded-for': '203.0.113.5' });
    expect(none).toEqual({ ip: '127.0.0.1' });
    expect(own).toEqual({ ip: '198.51.100.7' });
    expect(batch).toEqual({ ip: '127.0.0.1', library: { name: 'lib' } });
  });

  it('forwarded: the first X-Forwarded-For address when it is one, else the peer', async () => {
    const [none, own, batch] = await contexts('forwarded', { 'x-forwarded-for': ' 203.0.113.5 , 10.0.0.1' });
    expect(none).toEqual({ ip: '203.0.113.5' });
    expect(own).toEqual({ ip: '198.51.100.7' });
    expect(batch).toEqual({ ip: '203.0.113.5', library: { name: 'lib' } });
    const [garbage] = await contexts('forwarded', { 'x-forwarded-for': 'unknown, 10.0.0.1' });
    expect(garbage).toEqual({ ip: '127.0.0.1' });
  });

  it('off: nothing is added', async () => {
    const [none, own, batch] = await contexts('off', {});
    expect(none).toEqual({});
    expect(own).toEqual({ ip: '198.51.100.7' });
    expect(batch).toEqual({ library: { name: 'lib' } });
  });
});
