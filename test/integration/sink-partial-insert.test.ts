// A kill -9 in the middle of a chDB insert: `events` (and some rollups) got the block's rows,
// `sink_offsets` and `sink_recent_ids` did not, and the group never committed the round. Made
// here deterministically with the sink stopped (lower the floor, drop the block's recent ids,
// spoil a rollup day, rewind the group to the block, leave the block's insert intent), then the
// sink is started again: every record is in `events` exactly once, every rollup equals a count
// over `events`, and the floor is back at the last offset. A second case is a repair that itself
// died after deleting the rows (the intent holds the days to rebuild). Real broker, real chDB.
import { existsSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { startSink } from '../../src/sink/index.js';
import { blockIntent, readIntent, writeIntent } from '../../src/sink/intent.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, count, expectedTally, offsets, produce, rows, tally, testEvent } from './sink-helpers.js';

describe('sink: an insert cut short by a kill -9 (chDB)', () => {
  const dir = tempDir();
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let topic: string;
  let group: string;
  let intentFile: string;
  const events: EventRecord[] = [];

  beforeAll(async () => {
    config = testConfig(dir.path, { SINK_BATCH_MS: '100' });
    kafka = createKafka(config.kafka, silentLogger());
    topic = config.kafka.topics.events;
    group = config.sink.groupId;
    expect(config.sink.intentFile).not.toBeNull();
    intentFile = config.sink.intentFile!;
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  /** Runs a sink until the group committed everything, then stops it cleanly; returns its registry. */
  async function sinkOnce() {
    const registry = createRegistry('sink', false);
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry });
    try {
      await caughtUp(kafka, topic, group);
    } finally {
      await sink.stop();
    }
    return registry;
  }

  async function repaired(registry: ReturnType<typeof createRegistry>): Promise<number> {
    return (await registry.getSingleMetric('trackhouse_sink_interrupted_inserts_repaired_total')!.get()).values[0]?.value ?? 0;
  }

  async function produceMore(n: number): Promise<void> {
    const more = Array.from({ length: n }, (_, i) => testEvent(events.length + i));
    await produce(kafka, topic, more);
    events.push(...more);
  }

  /**
   * The store as a kill between the events part (and some rollups) and the bookkeeping parts
   * leaves it, for the last `size` records of the partition with the most: the floor below them,
   * their recent ids gone, a rollup day they count on spoilt, the group not committed past them.
   */
  async function cutShort(size: number): Promise<{ partition: number; first: number; last: number; day: string }> {
    const { high } = await offsets(kafka, topic, group);
    const [partition, end] = [...high].sort((a, b) => b[1] - a[1])[0]!;
    const first = end - size;
    const last = end - 1;
    const where = `kafka_topic = '${topic}' AND kafka_partition = ${partition} AND kafka_offset BETWEEN ${first} AND ${last}`;
    expect(await count(ch.client, `SELECT count() FROM events WHERE ${where}`)).toBe(size);
    await lowerFloor(ch.client, topic, partition, first - 1);
    await ch.client.command({ query: `ALTER TABLE sink_recent_ids DELETE WHERE ${where}`, clickhouse_settings: { mutations_sync: '2' } });
    const day = (await rows<{ day: string }>(ch.client, `SELECT toString(min(toDate(timestamp))) AS day FROM events WHERE ${where} AND group_id != ''`))[0]!.day;
    // The group rollup of that day lost its part (the kill came before it): it does not match events.
    await ch.client.command({ query: `ALTER TABLE events_daily_by_group DELETE WHERE day = '${day}'`, clickhouse_settings: { mutations_sync: '2' } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition, offset: String(first) }] });
    } finally {
      await admin.disconnect();
    }
    return { partition, first, last, day };
  }

  async function floorOf(partition: number): Promise<number> {
    return count(ch.client, `SELECT max(max_offset) FROM sink_offsets WHERE kafka_topic = '${topic}' AND kafka_partition = ${partition}`);
  }

  async function doubles(): Promise<number> {
    return count(ch.client, 'SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset) FROM events');
  }

  it('undoes the rows the cut-short insert left and inserts its records once', async () => {
    await produceMore(900);
    await sinkOnce();
    expect(await tally(ch.client)).toEqual(expectedTally(events));

    const cut = await cutShort(60);
    writeIntent(intentFile, blockIntent(topic, 'sink-killed-token', new Map([[cut.partition, [cut.first, cut.last]]])));
    expect((await tally(ch.client)).rollupsMatchEvents).toBe(false);

    const registry = await sinkOnce();
    expect(await doubles()).toBe(0);
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    expect(await count(ch.client, `SELECT count() FROM events WHERE kafka_topic = '${topic}'`)).toBe(events.length);
    expect(await floorOf(cut.partition)).toBe(cut.last);
    expect(await count(ch.client, `SELECT count() FROM sink_recent_ids WHERE kafka_partition = ${cut.partition} AND kafka_offset BETWEEN ${cut.first} AND ${cut.last}`)).toBe(60);
    expect(existsSync(intentFile)).toBe(false);
    expect(await repaired(registry)).toBe(1);
  });

  it('finishes a repair that died after deleting the rows: the days saved in the intent are rebuilt', async () => {
    await produceMore(600);
    await sinkOnce();
    const cut = await cutShort(40);
    // The repair got through its delete: the rows are gone from events, the rollups not rebuilt.
    const where = `kafka_topic = '${topic}' AND kafka_partition = ${cut.partition} AND kafka_offset BETWEEN ${cut.first} AND ${cut.last}`;
    const days = (await rows<{ d: string }>(ch.client, `SELECT DISTINCT toString(toDate(timestamp)) AS d FROM events WHERE ${where} ORDER BY d`)).map((r) => r.d);
    expect(days).toContain(cut.day);
    writeIntent(intentFile, { ...blockIntent(topic, 'sink-killed-token', new Map([[cut.partition, [cut.first, cut.last]]])), days });
    await ch.client.command({ query: `ALTER TABLE events DELETE WHERE ${where}`, clickhouse_settings: { mutations_sync: '2' } });
    expect(await count(ch.client, `SELECT count() FROM events WHERE ${where}`)).toBe(0);

    const registry = await sinkOnce();
    expect(await doubles()).toBe(0);
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    expect(await floorOf(cut.partition)).toBe(cut.last);
    expect(existsSync(intentFile)).toBe(false);
    expect(await repaired(registry)).toBe(1);
  });

  it('goes on past an intent it cannot read, and keeps it aside for a person', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(intentFile, '\u0000garbage');
    expect(readIntent(intentFile, topic).status).toBe('unreadable');
    await produceMore(100);
    const registry = await sinkOnce();
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    expect(existsSync(intentFile)).toBe(false);
    expect(existsSync(`${intentFile}.unreadable`)).toBe(true);
    expect(await repaired(registry)).toBe(0);
  });
});

/** Sets the partition's floor to `floor`, as if no later row had reached sink_offsets. */
async function lowerFloor(client: ClickHouseClient, topic: string, partition: number, floor: number): Promise<void> {
  await client.command({
    query: `ALTER TABLE sink_offsets DELETE WHERE kafka_topic = '${topic}' AND kafka_partition = ${partition}`,
    clickhouse_settings: { mutations_sync: '2' },
  });
  await client.command({
    query: `INSERT INTO sink_offsets (kafka_topic, kafka_partition, max_offset) VALUES ('${topic}', ${partition}, ${floor})`,
    clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: '', async_insert: 0 },
  });
}
