// trackhouse replay against the real broker and chDB: over history ClickHouse already holds it
// inserts nothing; after ClickHouse lost a month it restores exactly that month; it never moves
// the sink group's offsets; and from an empty ClickHouse it rebuilds everything, once.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { runReplay, type ReplaySummary } from '../../src/replay/index.js';
import { startSink } from '../../src/sink/index.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { caughtUp, cliReplay, count, expectedTally, offsets, produce, resendOf, tally, testEvent, type Produced } from './sink-helpers.js';



describe('trackhouse replay', () => {
  const dir = tempDir();
  const topicEnv = uniqueTopicEnv('replay');
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  const first: EventRecord[] = Array.from({ length: 1500 }, (_, i) => testEvent(i));
  const resent = first.filter((_, i) => i % 15 === 0).map((e) => resendOf(e));
  const undecodable: Produced[] = [
    { key: 'x', value: Buffer.from('garbage') },
    { key: 'y', value: null },
  ];

  beforeAll(async () => {
    config = testConfig(dir.path, { ...topicEnv, SINK_BATCH_MS: '50' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    await produce(kafka, config.kafka.topics.events, [...first.slice(0, 700), ...undecodable, ...resent, ...first.slice(700)]);
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await sink.stop();
    expect(await tally(ch.client)).toEqual(expectedTally(first));
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  const total = first.length + resent.length + undecodable.length;

  it('over history ClickHouse already holds inserts nothing and leaves the sink group where it was', async () => {
    const before = await offsets(kafka, config.kafka.topics.events, config.sink.groupId);
    const summary = await runReplay({ config, kafka, clickhouse: ch.client, log: silentLogger(), from: { kind: 'time', ms: 0 } });
    expect(summary).toMatchObject({ read: total, inserted: 0, present: first.length + resent.length, undecodable: 2, limitedBy: 'high watermark' });
    expect(await tally(ch.client)).toEqual(expectedTally(first));
    expect(await offsets(kafka, config.kafka.topics.events, config.sink.groupId)).toEqual(before);
    const admin = kafka.admin();
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    await admin.disconnect();
    expect(groups.filter((g) => g.startsWith(`${config.sink.groupId}.replay.`))).toEqual([]);
  });

  it('after ClickHouse lost a month, restores exactly that month, counted once in events and rollups', async () => {
    for (const table of ['events', 'events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group']) {
      await ch.client.command({ query: `ALTER TABLE ${table} DROP PARTITION 202610` });
    }
    const october = first.filter((e) => new Date(e.timestamp).getUTCMonth() === 9);
    expect(await count(ch.client, 'SELECT count() FROM events')).toBe(first.length - october.length);
    const partitions = (await offsets(kafka, config.kafka.topics.events, config.sink.groupId)).high;
    const summary = await runReplay({
      config,
      kafka,
      clickhouse: ch.client,
      log: silentLogger(),
      from: { kind: 'offsets', offsets: new Map([...partitions.keys()].map((p) => [p, 0])) },
    });
    expect(summary).toMatchObject({ read: total, inserted: october.length, present: first.length + resent.length - october.length });
    expect(await tally(ch.client)).toEqual(expectedTally(first));
  });

  it('while the sink group is active, stops at its committed offsets', async () => {
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    try {
      const more = Array.from({ length: 300 }, (_, i) => testEvent(5000 + i));
      await produce(kafka, config.kafka.topics.events, more);
      await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
      const summary = await runReplay({ config, kafka, clickhouse: ch.client, log: silentLogger(), from: { kind: 'time', ms: 0 } });
      const { committed } = await offsets(kafka, config.kafka.topics.events, config.sink.groupId);
      expect(summary.limitedBy).toBe('sink group committed offsets');
      expect(new Map(summary.partitions.map((p) => [p.partition, p.to]))).toEqual(committed);
      expect(summary.inserted).toBe(0);
      expect(await tally(ch.client)).toEqual(expectedTally([...first, ...more]));
    } finally {
      await sink.stop();
    }
  });

  it('as a command, rebuilds an empty ClickHouse from Kafka once, and refuses a chDB dir another process holds', async () => {
    const fresh = tempDir();
    try {
      const env = { ...topicEnv, KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_PARTITIONS: '3', TRACKHOUSE_DATA_DIR: fresh.path, LOG_LEVEL: 'warn' };
      const rebuilt = await cliReplay(env, '1970-01-01T00:00:00Z');
      expect(rebuilt.stderr).not.toMatch(/error/i);
      expect(rebuilt.code).toBe(0);
      const s1 = JSON.parse(rebuilt.stdout) as ReplaySummary;
      const distinct = first.length + 300;
      expect(s1).toMatchObject({ read: total + 300, inserted: distinct, present: resent.length, undecodable: 2 });
      expect(rebuilt.stderr).toContain(`inserted ${distinct}, skipped as already present ${resent.length}`);
      const again = JSON.parse((await cliReplay(env, '1970-01-01T00:00:00Z')).stdout) as ReplaySummary;
      expect(again).toMatchObject({ inserted: 0, present: distinct + resent.length });

      const locked = await cliReplay({ ...env, TRACKHOUSE_DATA_DIR: dir.path }, '0:0');
      expect(locked.code).toBe(2);
      expect(locked.stderr).toMatch(/most likely in use by another trackhouse process/);
    } finally {
      fresh.remove();
    }
  });
});
