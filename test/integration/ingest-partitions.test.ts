// An operator adds partitions to the events topic while ingest runs. Against the real broker:
// ingest writes to the new partitions without a restart, each user's events to the partition the
// Java-compatible partitioner gives their key under the new count (what the sink, the view and
// the query API's forwarding expect).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/kafka/index.js';
import { postJson, startTestIngest, TopicReader, trackEvent, type TestIngest } from './ingest-support.js';
import { growTopic, waitFor } from './sink-helpers.js';

const USERS = Array.from({ length: 24 }, (_, i) => `grow-${i}`);

describe('partitions added to the events topic while ingest runs', () => {
  let ingest: TestIngest;
  let reader: TopicReader;
  let topic = '';

  const highs = async () => {
    const admin = ingest.kafka.admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    ingest = await startTestIngest({ KAFKA_PARTITIONS: '2', KAFKA_METADATA_MAX_AGE_MS: '1000' });
    topic = ingest.config.kafka.topics.events;
    const first = await postJson(`${ingest.url}/v1/batch`, { batch: USERS.map((u, i) => trackEvent(`before-${i}`, u)) });
    expect(first.status).toBe(200);
    await growTopic(ingest.kafka, topic, 4);
    reader = await new TopicReader(ingest.kafka, [topic]).start();
  });

  afterAll(async () => {
    await reader?.stop();
    await ingest?.close();
  });

  it('writes to the new partitions without a restart, by the new count', async () => {
    let n = 0;
    await waitFor('ingest to write to the new partitions', async () => {
      const r = await postJson(`${ingest.url}/v1/batch`, { batch: USERS.map((u, i) => trackEvent(`probe-${n}-${i}`, u)) });
      n++;
      if (r.status !== 200) return false;
      const h = await highs();
      return (h.get(2) ?? 0) + (h.get(3) ?? 0) > 0;
    });
    const r = await postJson(`${ingest.url}/v1/batch`, { batch: USERS.map((u, i) => trackEvent(`after-${i}`, u)) });
    expect(r.status).toBe(200);
    const after = await reader.events(topic, 'after-', USERS.length);
    expect(after.map((e) => [e.key, e.partition])).toEqual(after.map((e) => [e.key, partitionForKey(e.key!, 4)]));
    expect(new Set(after.map((e) => e.partition))).toEqual(new Set([0, 1, 2, 3]));
  });
});
