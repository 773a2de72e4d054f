// Effectively once when the same event arrives again: client resends (a new Kafka record with the
// same user and messageId, timestamps slightly off), across a restart of the sink, and inserts
// that ClickHouse refused, or accepted while reporting a failure; and the consumer lag /metrics
// shows while ClickHouse refuses inserts.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { startOpsServer } from '../../src/common/http.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, count, expectedTally, faultyClient, offsets, produce, resendOf, tally, testEvent, waitFor, type Faults } from './sink-helpers.js';

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

/** trackhouse_sink_consumer_lag per partition, as /metrics serves it. */
async function scrapeLag(port: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lag = new Map<number, number>();
  for (const m of text.matchAll(/^trackhouse_sink_consumer_lag\{partition="(\d+)"[^}]*\} (\d+)$/gm)) lag.set(Number(m[1]), Number(m[2]));
  return new Map([...lag].sort(([a], [b]) => a - b));
}

const total = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('sink deduplication', () => {
  const dir = tempDir();
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  const sinks: RunningSink[] = [];

  beforeAll(async () => {
    // Both tests share the chDB data dir (one per process) and use their own topics and tables' rows.
    ch = await openClickHouse(testConfig(dir.path).clickhouse, dir.path);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    for (const s of sinks) await s.stop();
    await ch?.close();
    dir.remove();
  });

  async function run(config: Config, client = ch.client) {
    const registry = createRegistry('sink', false);
    const sink = await startSink({ config, kafka, clickhouse: client, log: silentLogger(), registry });
    sinks.push(sink);
    return { sink, registry };
  }

  it('drops client resends of a messageId, within a fetch, across fetches and across a restart', async () => {
    const config = testConfig(dir.path, { SINK_BATCH_MS: '50' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    const topic = config.kafka.topics.events;
    const first = Array.from({ length: 1000 }, (_, i) => testEvent(i));
    const resentSoon = first.filter((_, i) => i % 10 === 0).map((e) => resendOf(e));
    // Another user's event that happens to reuse a messageId is a different event.
    const otherUser: EventRecord = { ...testEvent(5000), event_id: first[1]!.event_id, user_id: 'someone-else' };
    await produce(kafka, topic, [...first.slice(0, 500), ...resentSoon.slice(0, 20), ...first.slice(500), ...resentSoon.slice(20), otherUser]);

    const a = await run(config);
    await caughtUp(kafka, topic, config.sink.groupId);
    expect(await tally(ch.client)).toEqual(expectedTally([...first, otherUser]));
    expect(await metric(a.registry, 'trackhouse_sink_duplicates_skipped_total', { reason: 'resent' })).toBe(resentSoon.length);
    await a.sink.stop();

    // The new sink knows the earlier events only from ClickHouse.
    const second = Array.from({ length: 1000 }, (_, i) => testEvent(1000 + i));
    const resentLate = [...first.filter((_, i) => i % 7 === 0), ...second.filter((_, i) => i % 9 === 0)].map((e) => resendOf(e, -2));
    await produce(kafka, topic, [...second.slice(0, 300), ...resentLate, ...second.slice(300)]);
    const b = await run(config);
    await caughtUp(kafka, topic, config.sink.groupId);
    expect(await tally(ch.client)).toEqual(expectedTally([...first, otherUser, ...second]));
    expect(await metric(b.registry, 'trackhouse_sink_duplicates_skipped_total', { reason: 'resent' })).toBe(resentLate.length);
    // The original is kept, not the resend.
    expect(await count(ch.client, `SELECT count() FROM events WHERE event_id = '${first[7]!.event_id}' AND timestamp = fromUnixTimestamp64Milli(${first[7]!.timestamp}, 'UTC')`)).toBe(1);
    await b.sink.stop();
  });

  it('holds consumption while ClickHouse refuses inserts, then lands every row once, also when a failed insert had landed', async () => {
    const config = testConfig(dir.path, { SINK_BATCH_MS: '50', SINK_RETRY_BASE_MS: '20', SINK_RETRY_MAX_MS: '200' });
    const kafka2 = createKafka(config.kafka, silentLogger());
    kafka = kafka2;
    await ensureTopics(kafka2, config.kafka);
    const topic = config.kafka.topics.events;
    const base = await tally(ch.client);
    const faults: Faults = { down: true, landThenFail: 0, stallMs: 0 };
    const faulty = faultyClient(ch.client, faults);
    const { registry } = await run(config, faulty.client);

    const events = Array.from({ length: 1500 }, (_, i) => testEvent(20_000 + i));
    await produce(kafka2, topic, events.slice(0, 500));
    await waitFor('retries', async () => faulty.calls.insert >= 3);
    const fetches = await metric(registry, 'trackhouse_sink_fetches_total');
    expect(await metric(registry, 'trackhouse_sink_waiting_for_clickhouse')).toBe(1);
    await produce(kafka2, topic, events.slice(500, 1000));
    const calls = faulty.calls.insert;
    await waitFor('more retries', async () => faulty.calls.insert >= calls + 3);
    // Nothing more was fetched while the fetch in hand could not be inserted: memory stays bounded.
    expect(await metric(registry, 'trackhouse_sink_fetches_total')).toBe(fetches);
    expect(await count(ch.client, 'SELECT count() FROM events')).toBe(base.rows);

    // ClickHouse is back, but slow, and its first answer is lost after the rows landed.
    faults.landThenFail = 1;
    faults.stallMs = 200;
    faults.down = false;
    await caughtUp(kafka2, topic, config.sink.groupId);
    await produce(kafka2, topic, events.slice(1000));
    await caughtUp(kafka2, topic, config.sink.groupId);

    const t = await tally(ch.client);
    expect(t).toEqual({
      rows: base.rows + 1500,
      identities: base.identities + 1500,
      rollupsMatchEvents: true,
      byEvent: base.byEvent + 1500,
      byCategory: base.byCategory + expectedTally(events).byCategory,
      byGroup: base.byGroup + expectedTally(events).byGroup,
    });
    expect(faults.landThenFail).toBe(0);
    expect(await metric(registry, 'trackhouse_sink_insert_failures_total')).toBe(faulty.calls.failed);
    expect(await metric(registry, 'trackhouse_sink_waiting_for_clickhouse')).toBe(0);
  });

  it('shows on /metrics the lag of records it cannot commit while ClickHouse refuses inserts, then 0 once they landed', async () => {
    const config = testConfig(dir.path, { SINK_BATCH_MS: '50', SINK_RETRY_BASE_MS: '20', SINK_RETRY_MAX_MS: '200' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    const topic = config.kafka.topics.events;
    const group = config.sink.groupId;
    const base = await count(ch.client, 'SELECT count() FROM events');
    const faults: Faults = { down: true, landThenFail: 0, stallMs: 0 };
    const faulty = faultyClient(ch.client, faults);
    const { sink, registry } = await run(config, faulty.client);
    const opsOptions = { registry, checks: sink.checks, host: '127.0.0.1', port: 0, portVariable: 'SINK_PORT' };
    const ops = await startOpsServer(opsOptions);
    try {
      const zero = new Map([
        [0, 0],
        [1, 0],
        [2, 0],
      ]);
      await waitFor('a lag series per assigned partition', async () => (await scrapeLag(ops.port)).size === 3);
      expect(await scrapeLag(ops.port)).toEqual(zero);

      const n = 700;
      await produce(kafka, topic, Array.from({ length: n }, (_, i) => testEvent(40_000 + i)));
      await waitFor('refused inserts', async () => faulty.calls.failed >= 2);
      await waitFor(`the lag gauge to reach ${n}`, async () => total(await scrapeLag(ops.port)) === n);
      const stuck = await offsets(kafka, topic, group);
      // Per partition: everything produced, since nothing was committed.
      expect(await scrapeLag(ops.port)).toEqual(new Map([...stuck.high].sort(([a], [b]) => a - b)));
      expect([...stuck.committed.values()]).toEqual([-1, -1, -1]);
      expect(await metric(registry, 'trackhouse_sink_waiting_for_clickhouse')).toBe(1);
      expect(await count(ch.client, 'SELECT count() FROM events')).toBe(base);

      faults.down = false;
      await caughtUp(kafka, topic, group);
      await waitFor('the lag gauge to drop to 0', async () => total(await scrapeLag(ops.port)) === 0);
      expect(await scrapeLag(ops.port)).toEqual(zero);
      expect(await count(ch.client, 'SELECT count() FROM events')).toBe(base + n);
    } finally {
      ops.drain();
      ops.close();
      await sink.stop();
    }
  });
});
