// An operator adds partitions to the events topic while the sink runs. Against the real broker and
// chDB: the sink consumes the new partitions without a restart, from their first record (nothing
// written there before the group saw them is skipped), and a client resend whose original was
// written before the change, now on another partition because its user's key hashes there, is
// still counted once in events and in every rollup.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics, partitionForKey } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { runReplay } from '../../src/replay/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, count, expectedTally, growTopic, produce, resendOf, tally, testEvent, waitFor } from './sink-helpers.js';

const USERS = Array.from({ length: 24 }, (_, i) => `grow-${i}`);

describe('partitions added to the events topic while the sink runs', () => {
  const dir = tempDir('th-partitions-sink-');
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let sink: RunningSink | null = null;
  const event = (i: number, user: string): EventRecord => testEvent(i, { event_id: `grow-${i}`, user_id: user, anonymous_id: null });
  const before = USERS.map((u, i) => event(i, u));
  const after = USERS.map((u, i) => event(1000 + i, u));
  const moved = new Set(USERS.filter((u) => partitionForKey(u, 4) !== partitionForKey(u, 2)));
  // Client resends of events acknowledged before the change: the same user and messageId.
  const resends = before.filter((e) => moved.has(e.user_id!)).map((e) => resendOf(e, 3));
  const grownAgain = USERS.map((u, i) => event(2000 + i, u));

  beforeAll(async () => {
    config = testConfig(dir.path, { KAFKA_PARTITIONS: '2', SINK_BATCH_MS: '100', KAFKA_METADATA_MAX_AGE_MS: '1000' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    await produce(kafka, config.kafka.topics.events, before);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await growTopic(kafka, config.kafka.topics.events, 4);
    // A new producer sees the 4 partitions at once, as ingest does within KAFKA_METADATA_MAX_AGE_MS.
    await produce(kafka, config.kafka.topics.events, [...after, ...resends]);
  });

  afterAll(async () => {
    await sink?.stop();
    await ch?.close();
    dir.remove();
  });

  it('puts users and resends on the new partitions (the premise)', () => {
    expect(moved.size).toBeGreaterThan(0);
    expect(resends.length).toBe(before.filter((e) => moved.has(e.user_id!)).length);
  });

  it('inserts the events of the new partitions without a restart', async () => {
    await waitFor('every event in ClickHouse', async () => (await count(ch.client, "SELECT uniqExact(event_id) FROM events WHERE startsWith(event_id, 'grow-')")) === before.length + after.length);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    const parts = await count(ch.client, 'SELECT uniqExact(kafka_partition) FROM events WHERE kafka_partition >= 2');
    expect(parts).toBe(2);
  });

  it('counts a resend that landed on another partition than its original once', async () => {
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    expect(await tally(ch.client)).toEqual(expectedTally([...before, ...after]));
  });

  it('grown again while stopped: consumes the new partitions after a restart and still drops resends across the change', async () => {
    await sink!.stop();
    sink = null;
    await growTopic(kafka, config.kafka.topics.events, 8);
    const third = grownAgain;
    const movedAgain = new Set(USERS.filter((u) => partitionForKey(u, 8) !== partitionForKey(u, 4)));
    const resentAgain = after.filter((e) => movedAgain.has(e.user_id!)).map((e) => resendOf(e, 3));
    expect(movedAgain.size).toBeGreaterThan(0);
    await produce(kafka, config.kafka.topics.events, [...third, ...resentAgain]);
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    expect(await tally(ch.client)).toEqual(expectedTally([...before, ...after, ...third]));
  });

  it('replays every partition of the grown topic, old and new, and finds every event present', async () => {
    await sink!.stop();
    sink = null;
    const summary = await runReplay({ config, kafka, clickhouse: ch.client, log: silentLogger(), from: { kind: 'time', ms: 0 } });
    expect(summary.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(summary.inserted).toBe(0);
    expect(summary.read).toBe(summary.present);
    expect(summary.read).toBeGreaterThan(before.length + after.length);
    expect(await tally(ch.client)).toEqual(expectedTally([...before, ...after, ...grownAgain]));
  });
});
