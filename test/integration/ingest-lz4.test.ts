// The LZ4 codec (lz4-napi, Kafka's LZ4 frame format) against the real broker, both ways: the
// broker must decode our frames to re-compress them for a gzip topic, and our codec must decode
// the frames Java writes for an lz4 topic.
import { randomBytes, randomUUID } from 'node:crypto';
import { CompressionTypes } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka, waitForLeaders } from '../../src/kafka/index.js';
import { createRecordProducer, type OutRecord, type RecordProducer } from '../../src/kafka/producer.js';
import { kafkaBrokers, testConfig } from '../support/env.js';
import { TopicReader } from './ingest-support.js';

// Only the Kafka section of a test config is used (no data dir is created).
const kafka = createKafka(testConfig('unused').kafka, silentLogger(), kafkaBrokers());
const producers: RecordProducer[] = [];

async function topicWith(compression: string): Promise<string> {
  const topic = `lz4-${compression}-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs's own wait does not retry KRaft's "does not host this topic-partition" (KAFKA-15780).
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'compression.type', value: compression }] }],
    });
    await waitForLeaders(admin, [topic]);
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/** 3000 records of ~500 bytes (some incompressible): frames of several blocks, both compressible and not. */
function records(topic: string): OutRecord[] {
  return Array.from({ length: 3000 }, (_, i) => ({
    topic,
    key: `user-${i % 17}`,
    value: i % 10 === 0 ? randomBytes(500) : Buffer.from(JSON.stringify({ i, pad: 'event '.repeat(80) })),
  }));
}

async function produce(topic: string, compression: CompressionTypes): Promise<OutRecord[]> {
  const producer = await createRecordProducer({
    kafka,
    log: silentLogger(),
    compression,
    ackTimeoutMs: 60_000,
    maxPendingBytes: 64 * 1024 * 1024,
    maxRequestBytes: 4 * 1024 * 1024,
    probeTopic: topic,
  });
  producers.push(producer);
  const recs = records(topic);
  const error = await new Promise<unknown>((resolve) => {
    expect(producer.submit({ records: recs, bytes: 2_000_000, settle: resolve })).toBe('queued');
  });
  expect(error).toBeNull();
  return recs;
}

let reader: TopicReader;
let toGzip: string;
let toLz4: string;

beforeAll(async () => {
  toGzip = await topicWith('gzip');
  toLz4 = await topicWith('lz4');
  reader = await new TopicReader(kafka, [toGzip, toLz4]).start();
});

afterAll(async () => {
  await reader?.stop();
  for (const p of producers) await p.close(5_000);
});

it('the broker decodes LZ4 batches we write (it re-compresses them for a gzip topic) and keeps every byte', async () => {
  const sent = await produce(toGzip, CompressionTypes.LZ4);
  const got = await reader.waitFor(toGzip, sent.length);
  expect(got).toHaveLength(sent.length);
  const byKey = (rs: { key: string | null; value: Buffer }[]) =>
    rs
      .map((r) => `${r.key}:${r.value.toString('base64')}`)
      .sort()
      .join('\n');
  expect(byKey(got)).toBe(byKey(sent));
});

it('our codec decodes the LZ4 frames the broker (Java) writes for an lz4 topic', async () => {
  const sent = await produce(toLz4, CompressionTypes.GZIP);
  const got = await reader.waitFor(toLz4, sent.length);
  const values = new Set(sent.map((r) => r.value.toString('base64')));
  expect(got).toHaveLength(sent.length);
  for (const r of got) expect(values.has(r.value.toString('base64'))).toBe(true);
});
