// Two sinks in one consumer group while events keep arriving: a second member joins mid-stream,
// then the first leaves, so partitions move twice while inserts are in flight (the first sink's
// inserts are slowed down to make that likely). Every event is still counted once. And a member
// joins while the first sink has two rounds in flight (one inserting, the next decoded and waiting):
// the first sink re-joins only once its insert has landed, so the newcomer's floors include it.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { capturingLogger } from '../support/log.js';
import { caughtUp, count, expectedTally, faultyClient, produce, tally, testEvent, waitFor, type Faults } from './sink-helpers.js';

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

  it('a rebalance while two rounds are in flight waits for the insert in flight, and nothing is inserted twice', async () => {
    // Default batch bytes: the first fetch holds every partition's records, so whichever
    // partitions B is given, A's held insert has rows of them.
    const cfg = testConfig(dir.path, { KAFKA_PARTITIONS: '6', SINK_BATCH_MS: '50' });
    await ensureTopics(kafka, cfg.kafka);
    const topic = cfg.kafka.topics.events;
    const groupId = cfg.sink.groupId;
    // A's inserts wait at a gate the test opens: its first insert stays in flight meanwhile.
    let open!: () => void;
    const faults: Faults = { down: false, landThenFail: 0, stallMs: 0, gate: new Promise<void>((r) => (open = r)) };
    // A failed check must not leave A's insert held: stopping A waits for it.
    onTestFinished(() => open());
    const gated = faultyClient(ch.client, faults);
    const regA = createRegistry('sink', false);
    const logA = capturingLogger('info');
    const a = await startSink({ config: cfg, kafka, clickhouse: gated.client, log: logA.log, registry: regA });
    running.push(a);
    const joinsOfA = () => logA.lines.filter((l) => l.msg === 'partitions assigned').length;

    const events = Array.from({ length: 3000 }, (_, i) => testEvent(50_000 + i));
    await produce(kafka, topic, events.slice(0, 500));
    await waitFor('A to have its first insert in flight', async () => gated.calls.insert === 1);
    await produce(kafka, topic, events.slice(500, 2000));
    await waitFor('A to have fetched the next round while the first inserts', async () => (await fetches(regA)) >= 2);
    expect(gated.calls.insert).toBe(1);

    // A may already have joined twice (CI saw it once): kafkajs re-joins when a fetch finds the
    // new topic's metadata stale, before anything is in flight. What counts is that no join
    // happens from here until the insert landed.
    const joinsBefore = joinsOfA();
    const crashes = () => logA.lines.filter((l) => l.msg === 'Kafka consumer crashed').length;

    // B joins: the group rebalances, but A cannot re-join before its insert ended.
    const regB = createRegistry('sink', false);
    const starting = startSink({ config: cfg, kafka, clickhouse: ch.client, log: silentLogger(), registry: regB });
    await waitFor('the group to rebalance', async () => (await groupState(kafka, groupId)) === 'PreparingRebalance');
    // A saw it (its next round was cut short) and kafkajs asked to re-join: the fence holds it.
    await waitFor('A to want to re-join', async () => logA.lines.some((l) => l.msg === 're-joining the group once the work in flight ended'));
    // Give a re-join that did not wait the time to happen (a join takes milliseconds here); the
    // fence must still hold A, and so B, whatever this wait is.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(joinsOfA(), JSON.stringify(logA.lines.map((l) => l.msg))).toBe(joinsBefore);
    expect(await groupState(kafka, groupId)).toBe('PreparingRebalance');
    expect(gated.calls.insert).toBe(1); // still the same insert, held at the gate
    expect(await count(ch.client, `SELECT count() FROM events WHERE kafka_topic = '${topic}'`)).toBe(0);

    open();
    const b = await starting;
    running.push(b);
    await produce(kafka, topic, events.slice(2000));
    await caughtUp(kafka, topic, groupId);

    expect(await count(ch.client, `SELECT count() FROM events WHERE kafka_topic = '${topic}'`)).toBe(events.length);
    expect(await count(ch.client, `SELECT uniqExact(user_key, event_id) FROM events WHERE kafka_topic = '${topic}'`)).toBe(events.length);
    expect((await tally(ch.client)).rollupsMatchEvents).toBe(true);
    expect((await inserted(regA)) + (await inserted(regB))).toBe(events.length);
    expect(await inserted(regB)).toBeGreaterThan(0); // B did take partitions over
    expect(joinsOfA()).toBe(joinsBefore + 1);
    expect(crashes()).toBe(0); // a restarted consumer would have joined without the fence
  });
});

async function fetches(registry: Registry): Promise<number> {
  return (await registry.getSingleMetric('trackhouse_sink_fetches_total')!.get()).values[0]?.value ?? 0;
}

async function groupState(kafka: Kafka, groupId: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.describeGroups([groupId])).groups[0]!.state;
  } finally {
    await admin.disconnect();
  }
}
