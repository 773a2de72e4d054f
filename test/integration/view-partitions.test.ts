// An operator adds partitions to the events topic while the query API runs (what every Kafka guide
// says to do when traffic grows), then restarts it later. Users whose key now hashes to a new
// partition have their newer events there. Against the real broker and chDB: the running view
// reads the new partitions without a restart (their events are in the per-user pages), a client
// resend of an event written before the change, now on another partition than its original, is
// served once, and a restart keeps the view (nothing applied again) instead of rebuilding it.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics, partitionForKey } from '../../src/kafka/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { growTopic, produce, resendOf, testEvent, waitFor } from './sink-helpers.js';
import { allPages } from './view-helpers.js';

const KEY = 'test-read-key';
const USERS = Array.from({ length: 24 }, (_, i) => `grow-${i}`);

describe('partitions added to the events topic while the query API runs', () => {
  const dir = tempDir('th-partitions-view-');
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let q: QueryComponent | null = null;
  const now = Date.now();
  const event = (i: number, user: string): EventRecord => testEvent(i, { event_id: `grow-${i}`, user_id: user, anonymous_id: null, timestamp: now - 3_600_000 + i, received_at: now - 3_600_000 + i });
  const before = USERS.map((u, i) => event(i, u));
  const after = USERS.map((u, i) => event(1000 + i, u));
  const moved = USERS.filter((u) => partitionForKey(u, 4) >= 2);
  // Client resends of events acknowledged before the change: the same user and messageId.
  const resends = before.filter((e) => moved.includes(e.user_id!)).map((e) => resendOf(e, 3));

  const start = () =>
    queryComponent({ config, brokers: config.kafka.brokers as string[], clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
  /** The event ids of a user's pages, in page order. */
  const idsOf = async (user: string) => {
    const pages = await allPages(`http://127.0.0.1:${q!.port}`, KEY, { user, query: 'limit=1000' });
    if (pages.some((p) => p.status !== 200)) return null;
    return pages.flatMap((p) => (JSON.parse(p.text) as { events: { event_id: string }[] }).events.map((e) => e.event_id));
  };

  beforeAll(async () => {
    config = testConfig(dir.path, { KAFKA_PARTITIONS: '2', QUERY_VIEW_DAYS: '3650', KAFKA_METADATA_MAX_AGE_MS: '1000' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    q = await start();
    await produce(kafka, config.kafka.topics.events, before);
    await waitFor('the view to apply the first events', async () => q!.view.caughtUp() && (q!.view.report()?.counts.applied ?? 0) >= before.length);
    await growTopic(kafka, config.kafka.topics.events, 4);
    // A new producer: it sees the 4 partitions at once, as ingest does within KAFKA_METADATA_MAX_AGE_MS.
    await produce(kafka, config.kafka.topics.events, [...after, ...resends]);
  });

  afterAll(async () => {
    await q?.stop();
    await ch?.close();
    dir.remove();
  });

  it('puts users on the new partitions (the premise)', () => {
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThan(USERS.length);
  });

  it('serves the events written to the new partitions without a restart', async () => {
    await waitFor('every record read', async () => (q!.view.report()?.counts.records ?? 0) >= before.length + after.length + resends.length);
    // Counted with the records: a resend applied as a new event (the builder without the grown
    // count yet, when the new partitions' first records came) fails here, not as a page wait.
    expect(q!.view.report()?.counts).toMatchObject({ resent: resends.length, applied: before.length + after.length });
    await waitFor('every user to have both events in the view', async () => {
      for (const u of USERS) if ((await idsOf(u))?.length !== 2) return false;
      return true;
    });
    for (const [i, u] of USERS.entries()) expect(await idsOf(u), u).toEqual([`grow-${1000 + i}`, `grow-${i}`]);
    expect(q!.view.partitions).toEqual([0, 1, 2, 3]);
    await waitFor('the view to know the new count', async () => q!.view.partitionCount() === 4);
    expect(q!.view.caughtUp()).toBe(true);
  });

  it('keeps the view on a restart with the grown topic: nothing is applied again', async () => {
    await q!.stop();
    q = null;
    q = await start();
    await waitFor('the restarted view to catch up', async () => q!.view.caughtUp());
    expect(q.view.partitions).toEqual([0, 1, 2, 3]);
    expect(q.view.report()?.counts.applied).toBe(0);
    for (const [i, u] of USERS.entries()) expect(await idsOf(u), u).toEqual([`grow-${1000 + i}`, `grow-${i}`]);
  });

  it('grown again while stopped: reads the new partitions after the restart and still drops resends across the change', async () => {
    await q!.stop();
    q = null;
    await growTopic(kafka, config.kafka.topics.events, 8);
    const third = USERS.map((u, i) => event(2000 + i, u));
    const movedAgain = new Set(USERS.filter((u) => partitionForKey(u, 8) !== partitionForKey(u, 4)));
    const resentAgain = after.filter((e) => movedAgain.has(e.user_id!)).map((e) => resendOf(e, 3));
    expect(movedAgain.size).toBeGreaterThan(0);
    await produce(kafka, config.kafka.topics.events, [...third, ...resentAgain]);
    q = await start();
    await waitFor('the restarted view to catch up', async () => q!.view.caughtUp());
    expect(q.view.partitions).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(q.view.report()?.counts.applied).toBe(third.length);
    expect(q.view.report()?.counts.resent).toBe(resentAgain.length);
    for (const [i, u] of USERS.entries()) expect(await idsOf(u), u).toEqual([`grow-${2000 + i}`, `grow-${1000 + i}`, `grow-${i}`]);
  });
});

describe('partitions added while a shard of QUERY_SHARDS=2 runs', () => {
  const dir = tempDir('th-partitions-shard-');
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let q: QueryComponent | null = null;
  const now = Date.now();
  const event = (i: number, user: string): EventRecord => testEvent(i, { event_id: `shard-${i}`, user_id: user, anonymous_id: null, timestamp: now - 3_600_000 + i, received_at: now - 3_600_000 + i });
  // Shard 0's users: on an even partition, of 2 partitions as of 4 (p mod 2 = murmur2 mod 2 for both).
  const mine = USERS.filter((u) => partitionForKey(u, 4) % 2 === 0);

  beforeAll(async () => {
    config = testConfig(dir.path, {
      KAFKA_PARTITIONS: '2',
      QUERY_VIEW_DAYS: '3650',
      KAFKA_METADATA_MAX_AGE_MS: '1000',
      QUERY_SHARDS: '2',
      QUERY_SHARD_INDEX: '0',
      QUERY_SHARD_URL: 'http://127.0.0.1:9/{i}',
    });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    q = await queryComponent({ config, brokers: config.kafka.brokers as string[], clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
    await produce(kafka, config.kafka.topics.events, USERS.map((u, i) => event(i, u)));
    await waitFor('the shard to apply its first events', async () => q!.view.caughtUp() && (q!.view.report()?.counts.applied ?? 0) >= mine.length);
    await growTopic(kafka, config.kafka.topics.events, 4);
    await produce(kafka, config.kafka.topics.events, USERS.map((u, i) => event(1000 + i, u)));
  });

  afterAll(async () => {
    await q?.stop();
    await ch?.close();
    dir.remove();
  });

  it("reads its share of the new partitions (p mod 2 = 0) without a restart and serves its users' events from them", async () => {
    expect(mine.some((u) => partitionForKey(u, 4) === 2)).toBe(true);
    await waitFor('the shard to hold partition 2', async () => q!.view.partitions.includes(2));
    expect(q!.view.partitions).toEqual([0, 2]);
    const ids = async (user: string) => {
      const pages = await allPages(`http://127.0.0.1:${q!.port}`, KEY, { user, query: 'limit=1000' });
      return pages.flatMap((p) => (p.status === 200 ? (JSON.parse(p.text) as { events: { event_id: string }[] }).events.map((e) => e.event_id) : [`status ${p.status}`]));
    };
    await waitFor("every user of the shard to have both events", async () => {
      for (const u of mine) if ((await ids(u)).length !== 2) return false;
      return true;
    });
    for (const u of mine) {
      const i = USERS.indexOf(u);
      expect(await ids(u), u).toEqual([`shard-${1000 + i}`, `shard-${i}`]);
    }
    await waitFor('the shard to know the new count', async () => q!.view.partitionCount() === 4);
  });
});
