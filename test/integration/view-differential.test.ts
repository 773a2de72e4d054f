// The view answers exactly what ClickHouse answers. Random events (resends, odd JSON, ties in the
// same millisecond, unicode) go through the real broker into the sink (ClickHouse) and into two
// views: one holding everything, one whose horizon cuts the data in half, so many pages straddle
// it. For random users and filters, every page of every request, followed cursor by cursor, must
// be the same bytes from the three servers: ClickHouse alone, view, view + ClickHouse.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { startQuery, type QueryServer } from '../../src/query/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import { tempDir, testConfig } from '../support/env.js';
import { caughtUp, count, produce, waitFor } from './sink-helpers.js';
import { allPages, DAY, randomEvents, randomRequests } from './view-helpers.js';

const KEY = 'test-read-key';

describe('view replies equal ClickHouse replies, byte for byte', () => {
  const dirs = [tempDir(), tempDir(), tempDir()];
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let sink: RunningSink;
  let plain: QueryServer;
  let whole: QueryComponent;
  let half: QueryComponent;
  const now = Date.now();
  const start = now - 10 * DAY;
  const end = now + DAY;
  const data = randomEvents(11, 2500, 60, start, end);

  beforeAll(async () => {
    config = testConfig(dirs[0]!.path, { SINK_BATCH_MS: '100' });
    const topics = { KAFKA_TOPIC_EVENTS: config.kafka.topics.events, KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected, KAFKA_TOPIC_DLQ: config.kafka.topics.dlq };
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    plain = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
    const brokers = config.kafka.brokers as string[];
    whole = await queryComponent({
      config: testConfig(dirs[1]!.path, { ...topics, QUERY_VIEW_DAYS: '3650' }),
      brokers,
      clickhouse: ch.client,
      log: silentLogger(),
      registry: createRegistry('q', false),
    });
    half = await queryComponent({
      config: testConfig(dirs[2]!.path, { ...topics, QUERY_VIEW_DAYS: '5' }),
      brokers,
      clickhouse: ch.client,
      log: silentLogger(),
      registry: createRegistry('q', false),
    });
    await produce(kafka, config.kafka.topics.events, data.events);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await waitFor('both views to catch up', async () => whole.view.caughtUp() && half.view.caughtUp() && (whole.view.report()?.counts.records ?? 0) >= data.events.length);
  });
  afterAll(async () => {
    await Promise.allSettled([whole?.stop(), half?.stop(), plain?.stop(), sink?.stop()]);
    await ch?.close();
    for (const d of dirs) d.remove();
  });

  it('holds what ClickHouse holds: resends dropped alike, the horizon where it should be', async () => {
    const rows = await count(ch.client, 'SELECT count() FROM events');
    const w = whole.view.report()!;
    const h = half.view.report()!;
    expect(w.counts.resent).toBeGreaterThan(0);
    expect(w.counts.applied).toBe(rows);
    expect(w.counts.resent).toBe(data.events.length - rows);
    expect(h.counts.applied + h.counts.beyondHorizon).toBe(rows);
    expect(h.counts.beyondHorizon).toBeGreaterThan(0);
    expect(h.horizon).toBe(Math.floor((now - 5 * DAY) / DAY) * DAY);
  });

  it('answers every page of random requests with the same bytes', async () => {
    const base = (s: { port: number }) => `http://127.0.0.1:${s.port}`;
    const requests = randomRequests(12, 150, data.users, start, end);
    let pages = 0;
    let straddled = 0;
    for (const req of requests) {
      const want = await allPages(base(plain), KEY, req);
      const a = await allPages(base(whole.server), KEY, req);
      const b = await allPages(base(half.server), KEY, req);
      expect(a, `${req.user} ?${req.query}`).toEqual(want);
      expect(b, `${req.user} ?${req.query} (half in the view)`).toEqual(want);
      pages += want.length;
      for (const p of want) if (p.status !== 200) throw new Error(`${req.user} ?${req.query}: ${p.status} ${p.text}`);
      straddled += want.filter((p) => p.text.includes('"events":[{')).length;
    }
    // The comparisons covered real pages, most of them with events.
    expect(pages).toBeGreaterThan(300);
    expect(straddled).toBeGreaterThan(pages / 2);
    // The view holding everything answered every page alone; the other needed ClickHouse for the
    // users with older events, and not for the others.
    const answers = async (s: { port: number }) => {
      const text = await (await fetch(`${base(s)}/metrics`)).text();
      return Object.fromEntries([...text.matchAll(/trackhouse_query_events_answers_total\{answer="(\w+)"[^}]*\} (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    };
    const a = await answers(whole.server);
    expect(a).toEqual({ view: pages });
    const b = await answers(half.server);
    expect(b.view).toBeGreaterThan(0);
    expect((b.view_clickhouse ?? 0) + (b.clickhouse ?? 0)).toBeGreaterThan(0);
  });
});
