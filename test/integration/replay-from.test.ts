// trackhouse replay from the middle of the topic, against the real broker and chDB: by Kafka
// record time and by partition:offset it re-inserts exactly the missing rows at or after the
// point, counted once in events and in every rollup; asked for history Kafka no longer holds, it
// says so (log, summary, the command's output) and starts at the earliest offset left.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { runReplay, type ReplayFrom, type ReplaySummary } from '../../src/replay/index.js';
import { startSink } from '../../src/sink/index.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { capturingLogger } from '../support/log.js';
import { caughtUp, cliReplay, expectedTally, offsets, produce, rows, tally, testEvent } from './sink-helpers.js';

const ROLLUPS = ['events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group'];


describe('trackhouse replay from the middle', () => {
  const dir = tempDir();
  const topicEnv = uniqueTopicEnv('replay-from');
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  // Kafka record time of event i (CreateTime, set by the producer): one second apart, in the past.
  const rec0 = Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000;
  const recordTime = (i: number) => rec0 + i * 1000;
  const events: EventRecord[] = Array.from({ length: 900 }, (_, i) => testEvent(i));
  const index = new Map(events.map((e, i) => [e.event_id, i]));
  /** Where each event landed in Kafka, as the sink wrote it into events. */
  const at = new Map<string, { partition: number; offset: number }>();
  /** Events whose day falls in October 2026 (event times span 2026-10-30 to 2026-11-03). */
  const october = new Set(events.filter((e) => new Date(e.timestamp).getUTCMonth() === 9).map((e) => e.event_id));
  let high: Map<number, number>;

  const replay = (from: ReplayFrom, log = silentLogger()) => runReplay({ config, kafka, clickhouse: ch.client, log, from });
  const storedIds = async () => new Set((await rows<{ event_id: string }>(ch.client, 'SELECT event_id FROM events')).map((r) => r.event_id));
  const dropOctober = async () => {
    for (const table of ['events', ...ROLLUPS]) await ch.client.command({ query: `ALTER TABLE ${table} DROP PARTITION 202610` });
  };
  /** The first offset of each partition whose record satisfies `pred`. */
  const firstOffsets = (pred: (i: number) => boolean) => {
    const out = new Map<number, number>();
    for (const [id, { partition, offset }] of at) {
      if (pred(index.get(id)!) && offset < (out.get(partition) ?? Infinity)) out.set(partition, offset);
    }
    return out;
  };

  beforeAll(async () => {
    config = testConfig(dir.path, { ...topicEnv, SINK_BATCH_MS: '50' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    await produce(kafka, config.kafka.topics.events, events, recordTime);
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await sink.stop();
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    for (const r of await rows<{ event_id: string; p: number; o: number }>(ch.client, 'SELECT event_id, kafka_partition AS p, kafka_offset AS o FROM events')) {
      at.set(r.event_id, { partition: Number(r.p), offset: Number(r.o) });
    }
    expect(at.size).toBe(events.length);
    high = (await offsets(kafka, config.kafka.topics.events, config.sink.groupId)).high;
    expect([...high.values()].every((h) => h > 100)).toBe(true);
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  it('by record time, restores only the missing rows at or after that time, counted once in events and rollups', async () => {
    await dropOctober();
    const cut = 600;
    const summary = await replay({ kind: 'time', ms: recordTime(cut) });
    const restored = events.filter((e, i) => i >= cut && october.has(e.event_id));
    const kept = events.filter((e, i) => i >= cut || !october.has(e.event_id));
    expect(restored).toHaveLength(120);
    expect(summary).toMatchObject({ read: 300, inserted: restored.length, present: 300 - restored.length, undecodable: 0, truncated: [], warning: null });
    // Each partition started at its first record stamped at or after the time (the record at it included).
    const starts = firstOffsets((i) => i >= cut);
    expect(summary.partitions.map((p) => [p.partition, p.from, p.to])).toEqual([...high].sort(([a], [b]) => a - b).map(([p, h]) => [p, starts.get(p), h]));
    expect(await storedIds()).toEqual(new Set(kept.map((e) => e.event_id)));
    expect(await tally(ch.client)).toEqual(expectedTally(kept));
  });

  it('by partition:offset, replays only the named partitions from those offsets', async () => {
    // Still missing: October events stamped before the cut above.
    const missing = events.filter((e, i) => i < 600 && october.has(e.event_id)).map((e) => e.event_id);
    const from = new Map([
      [0, 60],
      [2, 45],
    ]);
    const before = await storedIds();
    const summary = await replay({ kind: 'offsets', offsets: from });
    const restored = missing.filter((id) => {
      const { partition, offset } = at.get(id)!;
      return from.has(partition) && offset >= from.get(partition)!;
    });
    expect(restored.length).toBeGreaterThan(0);
    expect(restored.length).toBeLessThan(missing.length);
    const read = high.get(0)! - 60 + high.get(2)! - 45;
    expect(summary).toMatchObject({ read, inserted: restored.length, present: read - restored.length, truncated: [], warning: null });
    expect(summary.partitions.map((p) => [p.partition, p.from, p.to])).toEqual([
      [0, 60, high.get(0)],
      [2, 45, high.get(2)],
    ]);
    const expected = new Set([...before, ...restored]);
    expect(await storedIds()).toEqual(expected);
    expect(await tally(ch.client)).toEqual(expectedTally(events.filter((e) => expected.has(e.event_id))));
  });

  it('asked for history Kafka no longer holds, warns in the log and the summary and starts at the low watermark', async () => {
    const topic = config.kafka.topics.events;
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs it loaded
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 1, offset: '50' }] });
    const low = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)]));
    await admin.disconnect();
    expect(low).toEqual(new Map([[0, 0], [1, 50], [2, 0]]));

    // A time after the first record left of partition 1: nothing there is gone, no warning.
    expect(firstOffsets((i) => i >= 600).get(1)).toBeGreaterThan(50);
    expect(await replay({ kind: 'time', ms: recordTime(600) })).toMatchObject({ inserted: 0, truncated: [], warning: null });

    // By time, from before everything: partition 1's records below 50 are gone.
    const byTime = capturingLogger('warn');
    const s1 = await replay({ kind: 'time', ms: 0 }, byTime.log);
    expect(s1.truncated).toEqual([{ partition: 1, earliest: 50, requested: null }]);
    expect(s1.partitions.map((p) => p.from)).toEqual([0, 50, 0]);
    expect(s1.warning).toBe(
      `--from reaches back before what Kafka still holds of ${topic}: the history before the low watermark is gone ` +
        '(retention.ms or deleted records) and cannot be replayed; replaying partitions 1 (from 50) from the earliest offset still held',
    );
    expect(byTime.lines.filter((l) => l.level === 40).map((l) => [l.msg, l.truncated])).toEqual([[s1.warning, s1.truncated]]);
    // Everything Kafka still holds came back, once; what partition 1 lost below offset 50 did not.
    const lost = events.filter((e) => october.has(e.event_id) && at.get(e.event_id)!.partition === 1 && at.get(e.event_id)!.offset < 50);
    expect(lost.length).toBeGreaterThan(0);
    const kept = events.filter((e) => !lost.includes(e));
    expect(s1.read).toBe(events.length - 50);
    expect(await storedIds()).toEqual(new Set(kept.map((e) => e.event_id)));
    expect(await tally(ch.client)).toEqual(expectedTally(kept));

    // By offset: the offset asked for is named.
    const s2 = await replay({ kind: 'offsets', offsets: new Map([[0, 0], [1, 10], [2, 0]]) });
    expect(s2.truncated).toEqual([{ partition: 1, earliest: 50, requested: 10 }]);
    expect(s2.warning).toContain('replaying partitions 1 (from 50, not 10) from the earliest offset still held');
    expect(s2).toMatchObject({ read: events.length - 50, inserted: 0 });
  });

  it('as a command, prints the warning with the summary, and refuses a time without a zone naming --from', async () => {
    const fresh = tempDir();
    try {
      const env = { ...topicEnv, KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_PARTITIONS: '3', TRACKHOUSE_DATA_DIR: fresh.path, LOG_LEVEL: 'warn' };
      const local = await cliReplay(env, '2026-11-01T00:00:00');
      expect(local.code).toBe(2);
      expect(local.stderr).toBe(
        'trackhouse: --from "2026-11-01T00:00:00": a time needs a zone: end it with Z or an offset such as +02:00; expected an ISO 8601 time ' +
          'with a zone (2026-11-01T00:00:00Z, 2026-11-01T01:00:00+01:00), a date (2026-11-01, midnight UTC), or partition:offset pairs (0:1200,3:0)\n',
      );

      const run = await cliReplay(env, '0:0,1:0,2:0');
      expect(run.code).toBe(0);
      // Logs (the warning among them) go to stderr: stdout is the summary alone.
      const summary = JSON.parse(run.stdout) as ReplaySummary;
      expect(summary).toMatchObject({ read: events.length - 50, inserted: events.length - 50, truncated: [{ partition: 1, earliest: 50, requested: 0 }] });
      expect(run.stderr).toContain(`inserted ${events.length - 50}, skipped as already present 0`);
      expect(run.stderr).toContain(`\nwarning: ${summary.warning}\n`);
    } finally {
      fresh.remove();
    }
  });
});
