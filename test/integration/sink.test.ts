// The sink against the real broker and chDB: rows and rollups, dead letters, offsets and metrics.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { lz4Codec } from '../../src/kafka/compression.js';
import { createKafka, partitionForKey } from '../../src/kafka/index.js';
import { userKeyOf, type EventRecord } from '../../src/schema/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, count, encode, expectedTally, offsets, produce, readTopic, rows, tally, testEvent, waitFor, type Produced } from './sink-helpers.js';

describe('sink', () => {
  const dir = tempDir();
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let sink: RunningSink | undefined;

  beforeAll(async () => {
    config = testConfig(dir.path, { SINK_BATCH_MS: '100' });
    kafka = createKafka(config.kafka, silentLogger());
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    await sink?.stop();
    await ch?.close();
    dir.remove();
  });

  it('sinks every event once, sends what it cannot decode to the DLQ with its context, and commits past both', async () => {
    const registry = createRegistry('sink', false);
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry });

    const events: EventRecord[] = Array.from({ length: 3000 }, (_, i) => testEvent(i));
    const badEvent = encode(testEvent(99_999));
    badEvent.writeUInt32BE(77, 1); // unknown schema id
    const bad: Produced[] = [
      { key: 'k1', value: Buffer.from('{"json":"not avro"}') },
      { key: 'k2', value: badEvent },
      { key: 'k3', value: null },
      { key: 'k4', value: encode(testEvent(5, { timestamp: Date.UTC(2999, 0, 1) })) },
    ];
    const produced: Produced[] = [...events.slice(0, 1500), ...bad, ...events.slice(1500)];
    await produce(kafka, config.kafka.topics.events, produced);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);

    expect(await tally(ch.client)).toEqual(expectedTally(events));
    // Every column made it through TabSeparated unchanged, including a tab inside JSON.
    const [sample] = await rows<Record<string, unknown>>(
      ch.client,
      `SELECT event_id, user_id, anonymous_id, properties, toUnixTimestamp64Milli(timestamp) AS ts, toUnixTimestamp64Milli(sent_at) AS sent,
              category, group_id, kafka_topic FROM events WHERE event_id = {id:String}`,
      { id: events[8]!.event_id },
    );
    expect(sample).toEqual({
      event_id: events[8]!.event_id,
      user_id: events[8]!.user_id,
      anonymous_id: events[8]!.anonymous_id,
      properties: events[8]!.properties,
      ts: events[8]!.timestamp,
      sent: events[8]!.sent_at,
      category: events[8]!.category,
      group_id: events[8]!.group_id,
      kafka_topic: config.kafka.topics.events,
    });

    const { committed, high } = await offsets(kafka, config.kafka.topics.events, config.sink.groupId);
    expect(committed).toEqual(high);

    // Dead letters are written with KAFKA_COMPRESSION (lz4 by default), like every record of the
    // project: reading them back decompresses LZ4 batches (the events above were sent uncompressed).
    expect(config.kafka.compression).toBe('lz4');
    const decompress = vi.spyOn(lz4Codec, 'decompress');
    const letters = await readTopic(kafka, config.kafka.topics.dlq, bad.length);
    expect(decompress).toHaveBeenCalled();
    decompress.mockRestore();
    expect(letters.map((l) => l.headers['trackhouse.error.code']).sort()).toEqual(['EVENT_OUT_OF_RANGE', 'RECORD_EMPTY', 'RECORD_UNDECODABLE', 'RECORD_UNDECODABLE']);
    const unknownSchema = letters.find((l) => l.key === 'k2')!;
    expect(unknownSchema.value?.equals(badEvent)).toBe(true);
    expect(unknownSchema.headers['__connect.errors.topic']).toBe(config.kafka.topics.events);
    expect(unknownSchema.headers['__connect.errors.exception.message']).toMatch(/unknown schema id 77/);
    // Each dead letter names exactly where its record is: the partition its key hashes to and its
    // place among the records produced to that partition, in order.
    const origin = new Map<string, [string, string]>();
    const next = new Map<number, number>();
    for (const item of produced) {
      const key = 'event_id' in item ? userKeyOf(item) : item.key!;
      const partition = partitionForKey(key, config.kafka.partitions);
      const offset = next.get(partition) ?? 0;
      next.set(partition, offset + 1);
      if (!('event_id' in item)) origin.set(key, [String(partition), String(offset)]);
    }
    expect(new Map(letters.map((l) => [l.key!, [l.headers['__connect.errors.partition'], l.headers['__connect.errors.offset']]]))).toEqual(origin);
    expect([...next.values()].reduce((a, b) => a + b, 0)).toBe(produced.length);


    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)!.values;
    expect(value('trackhouse_sink_rows_inserted_total')[0]!.value).toBe(3000);
    expect(value('trackhouse_sink_dlq_records_total').reduce((a, v) => a + v.value, 0)).toBe(4);
    expect(value('trackhouse_sink_consumer_lag').map((v) => v.value)).toEqual([0, 0, 0]);
    const insertRows = value('trackhouse_sink_insert_rows') as { metricName?: string; value: number }[];
    expect(insertRows.find((v) => v.metricName === 'trackhouse_sink_insert_rows_sum')!.value).toBe(3000);
  });

  it('after a restart reads on from the committed offsets and never inserts the same records again', async () => {
    await sink!.stop();
    const more = Array.from({ length: 500 }, (_, i) => testEvent(10_000 + i));
    await produce(kafka, config.kafka.topics.events, more);
    const registry = createRegistry('sink', false);
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry });
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await waitFor('rows', async () => (await count(ch.client, 'SELECT count() FROM events')) >= 3500);
    const t = await tally(ch.client);
    expect([t.rows, t.identities, t.rollupsMatchEvents]).toEqual([3500, 3500, true]);
  });
});

