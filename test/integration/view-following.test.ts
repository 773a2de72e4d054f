// The view after a broker outage, against a real broker of its own (stopping it leaves the run's
// shared broker alone) and a real chDB: once the view's Kafka reader has crashed it is no longer
// following the topic, so pages come from ClickHouse (which has what the sink inserted meanwhile)
// while the replica stays ready; once the broker is back and the view has caught up again, pages
// come from the view again and equal ClickHouse's. Found by the chaos suite: after a broker outage
// the view served pages ~50 s stale, as if complete.
import { Readable } from 'node:stream';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { LOCAL_KAFKA_VERSION, type Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { freePort, startLocalBroker, type LocalBroker, type LocalBrokerOptions } from '../../src/localkafka/index.js';
import { startQuery, type QueryServer } from '../../src/query/index.js';
import { encodeTsvRow, EVENTS_INSERT_COLUMNS, type EventRecord } from '../../src/schema/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { metricsText, metricValue } from './ingest-support.js';
import { produce, testEvent, waitFor } from './sink-helpers.js';
import { allPages } from './view-helpers.js';

const KEY = 'test-read-key';
const USER = 'followed-user';
/** Generous guards for waits on a shared, noisy machine (not timing claims). */
const DOWN_WAIT_MS = 120_000;
const BACK_WAIT_MS = 180_000;

describe('view following the topic across a broker outage', () => {
  const brokerDir = tempDir('trackhouse-viewfollow-broker-');
  const dir = tempDir('trackhouse-viewfollow-');
  const viewDir = tempDir('trackhouse-viewfollow-view-');
  let brokerOpts: LocalBrokerOptions;
  let broker: LocalBroker | null = null;
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let plain: QueryServer;
  let q: QueryComponent;
  const now = Date.now();
  // Events of the user: a few before the outage (in Kafka and ClickHouse), the rest only in
  // ClickHouse during it (as the sink would have inserted them while the view was not reading).
  const event = (i: number): EventRecord => testEvent(i, { event_id: `follow-${i}`, user_id: USER, timestamp: now - 60_000 + i, received_at: now - 30_000 + i, sent_at: null });
  const before = Array.from({ length: 5 }, (_, i) => event(i));
  const during = Array.from({ length: 7 }, (_, i) => event(100 + i));

  /** Inserts events as the sink does (its columns, TabSeparated rows), without Kafka. */
  const insert = async (events: readonly EventRecord[], firstOffset: number) => {
    const rows = events.map((e, i) => encodeTsvRow(e, config.kafka.topics.events, 0, firstOffset + i)).join('');
    await ch.client.insert({
      table: 'events',
      columns: [...EVENTS_INSERT_COLUMNS],
      format: 'TabSeparated',
      values: Readable.from([Buffer.from(rows)], { objectMode: false }),
      clickhouse_settings: { async_insert: 0 },
    });
  };
  const base = (port: number) => `http://127.0.0.1:${port}`;
  const pages = (port: number) => allPages(base(port), KEY, { user: USER, query: 'limit=4' });
  const idsOf = (ps: { text: string }[]) => ps.flatMap((p) => (JSON.parse(p.text) as { events: { event_id: string }[] }).events.map((e) => e.event_id));
  const metric = async (name: string, ...labels: string[]) => metricValue(await metricsText(base(q.server.port)), name, ...labels);
  const following = () => metric('trackhouse_query_view_following');
  const answers = (answer: string) => metric('trackhouse_query_events_answers_total', `answer="${answer}"`);
  const readyz = async () => (await fetch(`${base(q.server.port)}/readyz`)).status;

  beforeAll(async () => {
    brokerOpts = {
      dataDir: brokerDir.path,
      cacheDir: path.resolve('.trackhouse'),
      version: LOCAL_KAFKA_VERSION,
      port: await freePort(),
      controllerPort: await freePort(),
      instance: 'viewfollow',
      heapMb: 384,
    };
    broker = await startLocalBroker(brokerOpts);
    const env = { ...uniqueTopicEnv('viewfollow'), KAFKA_BROKERS: broker.brokers.join(',') };
    config = testConfig(dir.path, env);
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    plain = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
    // Before the outage: Kafka and ClickHouse hold the same events.
    await produce(kafka, config.kafka.topics.events, before);
    await insert(before, 0);
    q = await queryComponent({
      config: testConfig(viewDir.path, env),
      brokers: [...config.kafka.brokers],
      clickhouse: ch.client,
      log: silentLogger(),
      registry: createRegistry('q', false),
    });
    await waitFor('the view to catch up', async () => q.view.caughtUp(), 120_000);
  });
  afterAll(async () => {
    await Promise.allSettled([q?.stop(), plain?.stop()]);
    await ch?.close();
    if (broker) await broker.stop().catch(() => broker?.kill());
    for (const d of [brokerDir, dir, viewDir]) d.remove();
  });

  it('answers from ClickHouse while its Kafka reader is down, stays ready, and from the view again once it follows', { timeout: 600_000 }, async () => {
    // Following: pages come from the view.
    expect(await following()).toBe(1);
    const fromView0 = await answers('view');
    expect(idsOf(await pages(q.server.port))).toEqual(idsOf(await pages(plain.port)));
    expect(idsOf(await pages(q.server.port))).toHaveLength(before.length);
    expect(await answers('view')).toBeGreaterThan(fromView0);

    // The broker dies; the view's reader crashes and the view stops following.
    const t0 = Date.now();
    broker!.kill();
    await broker!.exited;
    broker = null;
    await waitFor('the view to stop following', async () => (await following()) === 0, DOWN_WAIT_MS);
    const downAfterMs = Date.now() - t0;
    expect(q.view.following()).toBe(false);
    // Still in the load balancer: it was caught up once, and ClickHouse answers for it.
    expect(await readyz()).toBe(200);
    // The sink inserts what it read before the outage; the view never saw these.
    await insert(during, before.length);
    const fromView1 = await answers('view');
    const fromClickHouse1 = await answers('clickhouse');
    const downPages = await pages(q.server.port);
    expect(downPages.every((p) => p.status === 200)).toBe(true);
    const downIds = idsOf(downPages);
    for (const e of during) expect(downIds).toContain(e.event_id);
    expect(downIds).toEqual(idsOf(await pages(plain.port)));
    expect(await answers('clickhouse')).toBeGreaterThan(fromClickHouse1);
    expect(await answers('view')).toBe(fromView1);
    expect(await readyz()).toBe(200);

    // The broker comes back on the same port and data; the same events reach Kafka, so the view
    // and ClickHouse hold the same again.
    const t1 = Date.now();
    broker = await startLocalBroker(brokerOpts);
    const startedAfterMs = Date.now() - t1;
    await waitFor('the view to follow again', async () => (await following()) === 1, BACK_WAIT_MS);
    const followAfterMs = Date.now() - t1;
    await produce(kafka, config.kafka.topics.events, during);
    const total = before.length + during.length;
    await waitFor('the view to apply the events', async () => (q.view.report()?.counts.applied ?? 0) >= total, BACK_WAIT_MS);
    expect(q.view.following()).toBe(true);
    const fromView2 = await answers('view');
    const fromClickHouse2 = await answers('clickhouse');
    const backPages = await pages(q.server.port);
    expect(backPages).toEqual(await pages(plain.port));
    expect(idsOf(backPages)).toHaveLength(total);
    expect(await answers('view')).toBeGreaterThan(fromView2);
    expect(await answers('clickhouse')).toBe(fromClickHouse2);
    expect(await readyz()).toBe(200);
    // For the report (not asserted: the machine is shared).
    console.log(`view-following: stopped following ${downAfterMs} ms after the broker died; broker restart took ${startedAfterMs} ms; following again ${followAfterMs} ms after the restart began`);
  });
});
