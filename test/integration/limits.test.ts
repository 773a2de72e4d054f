// The largest values ingest accepts, at the later stages that key, store or forward them, against
// the real broker (docs/architecture/ingest.md, "Producer").
import { randomBytes, randomUUID } from 'node:crypto';
import { CompressionTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { MAX_EVENT_BYTES } from '../../src/config/index.js';
import { applyRegulation, createErasureWriter, ErasureList, type Regulation } from '../../src/erasure/index.js';
import { createKafka, ensureTopics, waitForLeaders } from '../../src/kafka/index.js';
import { MAX_USERS_PER_REGULATION } from '../../src/regulations/bodies.js';
import { createRecordProducer, type OutRecord, type RecordProducer } from '../../src/kafka/producer.js';
import { MAX_ID_LENGTH } from '../../src/schema/index.js';
import { startSink } from '../../src/sink/index.js';
import { migrate, openClickHouse } from '../../src/warehouse/index.js';
import { kafkaBrokers, tempDir, testConfig } from '../support/env.js';
import { TopicReader } from './ingest-support.js';
import { caughtUp, produce, readTopic, tally, testEvent } from './sink-helpers.js';

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

describe('dead letters at the largest sizes', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  // What the sink cannot decode goes to the DLQ before its offsets are committed. All the dead
  // letters of a round went in one produce request, and a record at the events topic's own limit
  // grew past it with the DLQ's headers: the broker refused the send (MESSAGE_TOO_LARGE), and the
  // sink read the same records again for ever, storing nothing after them.
  it('sends a round of many large undecodable records, and one at the topic\'s limit, and goes on', async () => {
    const config = testConfig(dir.path, { SINK_BATCH_MS: '100' });
    const ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    try {
      const events = Array.from({ length: 200 }, (_, i) => testEvent(i));
      const eventsTopic = config.kafka.topics.events;
      await produce(kafka, eventsTopic, events.slice(0, 100));
      // 40 records of 100 KB (incompressible) on one partition: 4 MB of dead letters in a round.
      const garbage = Array.from({ length: 40 }, () => ({ key: 'not-avro', value: randomBytes(100_000) }));
      for (let i = 0; i < garbage.length; i += 8) await produce(kafka, eventsTopic, garbage.slice(i, i + 8));
      // As large as the broker takes (message.max.bytes 1048588, batch and record overhead aside).
      const huge = { key: 'huge', value: randomBytes(1_048_400) };
      await produce(kafka, eventsTopic, [huge]);
      await produce(kafka, eventsTopic, events.slice(100));
      await caughtUp(kafka, eventsTopic, config.sink.groupId);
      expect((await tally(ch.client)).rows).toBe(events.length);
      const letters = await readTopic(kafka, config.kafka.topics.dlq, garbage.length + 1);
      expect(letters).toHaveLength(garbage.length + 1);
      const values = new Set(garbage.map((g) => g.value.toString('base64')));
      expect(letters.filter((l) => l.key === 'not-avro' && values.has(l.value!.toString('base64')))).toHaveLength(garbage.length);
      const big = letters.find((l) => l.key === 'huge')!;
      expect(big.headers['trackhouse.error.code']).toBe('RECORD_UNDECODABLE');
      expect(big.headers['trackhouse.original_bytes']).toBe(String(huge.value.length));
      expect(huge.value.subarray(0, big.value!.length).equals(big.value!)).toBe(true);
    } finally {
      await sink.stop();
      await ch.close();
    }
  });
});

// POST /v1/regulations takes 5000 user ids in a 1 MB body. Their user records and the regulation
// record (which lists them all) went to the regulations topic in one uncompressed batch of 2.5 MB:
// the broker refused it (MESSAGE_TOO_LARGE) and the request failed on every retry.
it('records a regulation of the most user ids a request takes on the regulations topic', async () => {
  const config = testConfig('unused');
  await ensureTopics(kafka, config.kafka);
  const writer = await createErasureWriter(kafka, config.kafka.topics.regulations, new ErasureList());
  try {
    const keys = Array.from({ length: MAX_USERS_PER_REGULATION }, (_, i) => `${i}-`.padEnd(200, 'u'));
    const at = Date.now();
    const reg: Regulation = { id: 'reg_limits', type: 'suppress', status: 'finished', actor: 'dpo', userKeys: keys, createdAt: at, finishedAt: at, counts: null, error: null };
    expect(JSON.stringify({ type: 'suppress', user_ids: keys }).length).toBeLessThan(1024 * 1024);
    await writer.write(keys.map((k) => applyRegulation(undefined, k, 'suppress', reg.id, at)), [reg]);
    const got = await readTopic(kafka, config.kafka.topics.regulations, keys.length + 1);
    expect(got.filter((r) => r.key === 'r/reg_limits')).toHaveLength(1);
  } finally {
    await writer.close();
  }
});
