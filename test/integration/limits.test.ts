// The largest values ingest accepts, at the later stages that key, store or forward them, against
// the real broker (docs/architecture/ingest.md, "Producer").
import { randomBytes, randomUUID } from 'node:crypto';
import { CompressionTypes } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { MAX_EVENT_BYTES } from '../../src/config/index.js';
import { createKafka, waitForLeaders } from '../../src/kafka/index.js';
import { createRecordProducer, type OutRecord, type RecordProducer } from '../../src/kafka/producer.js';
import { MAX_ID_LENGTH } from '../../src/schema/index.js';
import { kafkaBrokers, testConfig } from '../support/env.js';
import { TopicReader } from './ingest-support.js';

const kafka = createKafka(testConfig('unused').kafka, silentLogger(), kafkaBrokers());
const producers: RecordProducer[] = [];
let topic: string;
let reader: TopicReader;

beforeAll(async () => {
  topic = `limits-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    // One partition: every record of a request in one batch, which the broker's message.max.bytes bounds.
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 1 }] });
    await waitForLeaders(admin, [topic]);
  } finally {
    await admin.disconnect();
  }
  reader = await new TopicReader(kafka, [topic]).start();
});

afterAll(async () => {
  await reader?.stop();
  for (const p of producers) await p.close(5_000);
});

// KAFKA_COMPRESSION=none and a user id of 8192 characters of 3 UTF-8 bytes each (24 KB, the
// Kafka key and again inside the 32 KB value): the producer counted the key's characters, not its
// bytes, so a request of the default 1 MB held 1.35 MB and the broker refused it (MESSAGE_TOO_LARGE).
it('keeps a produce request of events keyed by the longest user ids under the broker\'s message.max.bytes', async () => {
  const producer = await createRecordProducer({
    kafka,
    log: silentLogger(),
    compression: CompressionTypes.None,
    ackTimeoutMs: 60_000,
    maxPendingBytes: 64 * 1024 * 1024,
    maxRequestBytes: testConfig('unused').ingest.produceMaxBytes,
    probeTopic: topic,
  });
  producers.push(producer);
  const records: OutRecord[] = Array.from({ length: 40 }, (_, i) => {
    const user = `${i}`.padEnd(MAX_ID_LENGTH, '語');
    const value = Buffer.concat([Buffer.from(user), randomBytes(MAX_EVENT_BYTES - Buffer.byteLength(user))]);
    return { topic, key: user, value };
  });
  const error = await new Promise<unknown>((resolve) => {
    expect(producer.submit({ records, bytes: 4_000_000, settle: resolve })).toBe('queued');
  });
  expect(error).toBeNull();
  const got = await reader.waitFor(topic, records.length);
  expect(got.map((r) => r.key).sort()).toEqual(records.map((r) => r.key).sort());
});
