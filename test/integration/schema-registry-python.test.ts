// Confluent's own client (confluent-kafka for Python: librdkafka, AvroDeserializer, AvroSerializer,
// SchemaRegistryClient) reads what the ingest wrote to the real broker through the query port's
// /registry, as the README tells a user to, and a record it serializes (auto-registering
// trackhouse's schema, a producer's default) decodes with the sink's codec.
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMAS_DIR, type EventRecord } from '../../src/schema/index.js';
import { runPythonScript } from '../support/python-clients.js';
import { kafkaBrokers } from '../support/env.js';
import { postJson, trackEvent } from './ingest-support.js';
import { READ_KEY } from './query-helpers.js';
import { describeWithPython } from './python-suite.js';
import { startRegistryStack, type RegistryStack } from './registry-support.js';

interface PythonAnswer {
  events: Record<string, unknown>[];
  serialized: string;
  subjects: string[];
}

describeWithPython('the schema registry with Confluent\'s Python client', (python) => {
  let stack: RegistryStack;

  beforeAll(async () => {
    stack = await startRegistryStack();
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('decodes every event the ingest wrote, and its serializer writes records the sink reads', async () => {
    const { ingest, query: h, reader, topic } = stack;
    const sent = [
      trackEvent('py-1', 'user-ü', { properties: { total: 12.5, tags: ['a', 'b'], note: '✓ "quoted"' } }),
      trackEvent('py-2', 'user-2', { event: 'Signed Up' }),
      { type: 'page', messageId: 'py-3', anonymousId: 'anon-3', name: 'Home', properties: { url: 'https://example.com/' } },
      // A string cut inside an emoji (a browser SDK truncating a title) is a lone surrogate, sent as
      // "\ud83d": its record must still be UTF-8 that fastavro, strict, decodes (U+FFFD in its place).
      trackEvent('py-4', 'user-\ud83d', { event: 'Viewed \ud83d\ude00 \ud83d', properties: { title: 'cut \ud83d' } }),
    ];
    expect((await postJson(`${ingest.url}/v1/batch`, { batch: sent })).status).toBe(200);
    const landed = await reader.waitFor(topic, 4);
    const codec = reader.codec;
    const ours = new Map(landed.map((r) => codec.decode(r.value)).map((e) => [e.event_id, e]));

    const record: EventRecord = { ...ours.get('py-1')!, event_id: 'from-python', properties: '{"from":"python"}' };
    // test/support/confluent-python.py: its JSON answer.
    const answer = await runPythonScript<PythonAnswer>(python, 'confluent-python.py', {
      brokers: kafkaBrokers().join(','),
      topic,
      registry: `${h.base}/registry`,
      key: READ_KEY,
      want: 4,
      schema_file: path.join(SCHEMAS_DIR, 'event.v2.avsc'),
      record,
    });

    expect(answer.subjects).toEqual([`${topic}-value`, 'trackhouse.Event', `${topic}-trackhouse.Event`]);
    expect(answer.events.map((e) => e['event_id']).sort()).toEqual(['py-1', 'py-2', 'py-3', 'py-4']);
    // Field for field what the project's own codec reads from the same bytes (times as epoch ms).
    for (const e of answer.events) expect(e).toEqual({ ...ours.get(e['event_id'] as string)! });
    expect(JSON.parse(answer.events.find((e) => e['event_id'] === 'py-1')!['properties'] as string)).toEqual({ total: 12.5, tags: ['a', 'b'], note: '✓ "quoted"' });
    expect(answer.events.find((e) => e['event_id'] === 'py-4')).toMatchObject({ user_id: 'user-\ufffd', event: 'Viewed 😀 \ufffd' });

    const bytes = Buffer.from(answer.serialized, 'hex');
    expect([...bytes.subarray(0, 5)]).toEqual([0, 0, 0, 0, 2]);
    expect(codec.decode(bytes)).toEqual(record);
  }, 120_000);
});
