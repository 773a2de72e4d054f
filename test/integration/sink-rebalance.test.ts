// Two sinks in one consumer group while events keep arriving: a second member joins mid-stream,
// then the first leaves, so partitions move twice while inserts are in flight (the first sink's
// inserts are slowed down to make that likely). Every event is still counted once.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, expectedTally, faultyClient, produce, tally, testEvent, waitFor } from './sink-helpers.js';

async function inserted(registry: Registry): Promise<number> {
  return (await registry.getSingleMetric('trackhouse_sink_rows_inserted_total')!.get()).values[0]?.value ?? 0;
}

describe('sink rebalance', () => {
  const dir = tempDir();
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  const running: RunningSink[] = [];

  beforeAll(async () => {
    config = testConfig(dir.path, { KAFKA_PARTITIONS: '6', SINK_BATCH_MS: '50', SINK_BATCH_BYTES: String(256 * 1024) });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    for (const s of running) await s.stop();
    await ch?.close();
    dir.remove();
  });

  it('counts every event once while partitions move between members mid-stream', async () => {
    const topic = config.kafka.topics.events;
    // Events keep arriving, 200 every 50 ms, until both rebalances are over.
    const events: EventRecord[] = [];
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const next = Array.from({ length: 200 }, (_, i) => testEvent(events.length + i));
        await produce(kafka, topic, next);
        events.push(...next);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Member A's inserts take 300 ms each, so one is likely in flight when the group rebalances.
    const slow = faultyClient(ch.client, { down: false, landThenFail: 0, stallMs: 300 });
    const regA = createRegistry('sink', false);
    const a = await startSink({ config, kafka, clickhouse: slow.client, log: silentLogger(), registry: regA });
    running.push(a);
    await waitFor('A to insert', async () => (await inserted(regA)) > 0);

    const regB = createRegistry('sink', false);
    const b = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: regB });
    running.push(b);
    await waitFor('B to insert', async () => (await inserted(regB)) > 0);

    await a.stop(); // A leaves: B takes over its partitions
    const afterLeave = await inserted(regB);
    await waitFor('B to insert after A left', async () => (await inserted(regB)) > afterLeave);
    producing = false;
    await producer;
    await caughtUp(kafka, topic, config.sink.groupId);

    expect(await tally(ch.client)).toEqual(expectedTally(events));
    expect((await inserted(regA)) + (await inserted(regB))).toBe(events.length);
  });
});
