// The view's life beyond the happy path, against the real broker and chDB: a fresh replica whose
// topic has lost its oldest records to retention fills them from ClickHouse; a client resend is
// served once (the first copy), and so is a record the topic holds twice (a producer retry); a new
// replica is not ready until it has caught up, and answers from ClickHouse meanwhile; a disk
// budget moves the horizon forward and the pages across it still equal ClickHouse's; a user can
// be deleted from the view (for erasure); the hosted stream starts only once the view caught up.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import type { HostedStream } from '../../src/stream/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { startQuery, type QueryServer } from '../../src/query/index.js';
import { shardPartitions, startView as startBareView } from '../../src/view/view.js';
import type { BuilderReport } from '../../src/view/builderthread.js';
import { partitionCount } from '../../src/kafka/admin.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { metricsText, metricValue } from './ingest-support.js';
import { caughtUp, count, produce, resendOf, testEvent, waitFor } from './sink-helpers.js';
import { allPages, DAY, randomEvents } from './view-helpers.js';

const KEY = 'test-read-key';

describe('view life cycle', () => {
  const dir = tempDir();
  const viewDirs: ReturnType<typeof tempDir>[] = [];
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let sink: RunningSink;
  let plain: QueryServer;
  const views: QueryComponent[] = [];
  const now = Date.now();
  const data = randomEvents(41, 3000, 50, now - 9 * DAY, now);
  // A resend whose corrected time differs by 3 ms: ClickHouse keeps the first copy, so must the view.
  const original = { ...data.events[5]!, event_id: 'resent-once', user_id: 'resender', anonymous_id: null, timestamp: now - DAY };
  const resend = resendOf(original, 3);
  // The same record twice in the topic (a producer retry without idempotence): one event.
  const twice = { ...data.events[9]!, event_id: 'delivered-twice', user_id: 'twice', anonymous_id: null, timestamp: now - 2 * DAY };

  const startView = async (env: Record<string, string>) => {
    const d = tempDir();
    viewDirs.push(d);
    // As an earlier version left it: every event of the window, readable by every local user.
    const viewDir = path.join(d.path, 'view');
    mkdirSync(viewDir);
    chmodSync(viewDir, 0o755);
    const v = await queryComponent({
      config: testConfig(d.path, {
        KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
        KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
        KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
        ...env,
      }),
      brokers: config.kafka.brokers as string[],
      clickhouse: ch.client,
      log: silentLogger(),
      registry: createRegistry('q', false),
    });
    views.push(v);
    expect(statSync(viewDir).mode & 0o777, 'the view\'s folder').toBe(0o700);
    await waitFor('the view to catch up', async () => v.view.caughtUp(), 240_000);
    return v;
  };
  const pages = (server: { port: number }, user: string, query = 'limit=4') => allPages(`http://127.0.0.1:${server.port}`, KEY, { user, query });

  beforeAll(async () => {
    config = testConfig(dir.path, { SINK_BATCH_MS: '100' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    plain = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
    await produce(kafka, config.kafka.topics.events, [...data.events.slice(0, 1500), original, ...data.events.slice(1500), resend, twice, twice]);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
  });
  afterAll(async () => {
    await Promise.allSettled(views.map((v) => v.stop()));
    await Promise.allSettled([plain?.stop(), sink?.stop()]);
    await ch?.close();
    for (const d of [dir, ...viewDirs]) d.remove();
  });

  it('a fresh view of a topic whose start was deleted takes those events from ClickHouse', { timeout: 300_000 }, async () => {
    // As retention would: the first half of every partition is gone from Kafka.
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(config.kafka.topics.events);
    await admin.deleteTopicRecords({
      topic: config.kafka.topics.events,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: String(Math.floor(Number(o.high) / 2)) })),
    });
    await admin.disconnect();
    const v = await startView({ QUERY_VIEW_DAYS: '3650' });
    const r = v.view.report()!;
    expect(r.backfilled).toBeGreaterThan(1000);
    expect(r.counts.applied).toBe(await count(ch.client, 'SELECT count() FROM events'));
    for (const user of [...data.users, 'resender', 'twice']) expect(await pages(v.server, user), user).toEqual(await pages(plain, user));
  });

  it('serves a client resend once, as the first copy, like ClickHouse', async () => {
    const v = views[0]!;
    const page = JSON.parse((await pages(v.server, 'resender'))[0]!.text) as { events: { event_id: string; timestamp: string }[] };
    expect(page.events).toEqual([expect.objectContaining({ event_id: 'resent-once', timestamp: new Date(original.timestamp).toISOString() })]);
    const twicePage = JSON.parse((await pages(v.server, 'twice'))[0]!.text) as { events: { event_id: string }[] };
    expect(twicePage.events.map((e) => e.event_id)).toEqual(['delivered-twice']);
  });

  it('reports each commit: how long it took, and how old its oldest record was by its Kafka timestamp', async () => {
    const v = views[0]!;
    const url = `http://127.0.0.1:${v.server.port}`;
    const AGE = 'trackhouse_query_view_record_age_seconds';
    const COMMIT = 'trackhouse_query_view_commit_seconds';
    const read = async () => {
      const text = await metricsText(url);
      // Commits whose oldest record was 30 s to 5 min old.
      return { commits: metricValue(text, `${COMMIT}_count`), aged: metricValue(text, `${AGE}_count`), minutes: metricValue(text, `${AGE}_bucket`, 'le="300"') - metricValue(text, `${AGE}_bucket`, 'le="30"') };
    };
    const before = await read();
    // Written two minutes ago, by the producer's clock (as a producer would stamp a record it had to retry for that long).
    const aged = [0, 1, 2].map((i) => testEvent(900 + i, { event_id: `aged-${i}`, user_id: 'aged', anonymous_id: null, timestamp: now - DAY }));
    await produce(kafka, config.kafka.topics.events, aged, () => Date.now() - 120_000);
    await waitFor('the aged events in the view', async () => (await pages(v.server, 'aged'))[0]!.text.includes('aged-2'), 60_000);
    await waitFor('their commit in the metrics', async () => (await read()).aged > before.aged, 10_000);
    const after = await read();
    expect(after.commits).toBeGreaterThan(before.commits);
    expect(after.minutes).toBeGreaterThan(before.minutes);
  });

  it('is not ready until it has caught up, and answers from ClickHouse meanwhile', async () => {
    const d = tempDir();
    viewDirs.push(d);
    const cfg = testConfig(d.path, {
      KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
      KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
      KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
      QUERY_VIEW_DAYS: '3650',
    });
    const registry = createRegistry('q', false);
    const server = await startQuery({ config: cfg, clickhouse: ch.client, log: silentLogger(), registry, expectsView: true });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
    };
    const rows = await count(ch.client, 'SELECT count() FROM events');
    try {
      // Listening, no view yet: not ready, and a page still comes (from ClickHouse).
      const before = await readyz();
      expect(before.status).toBe(503);
      expect(before.checks.view).toMatch(/starting/);
      expect(await pages(server, 'resender')).toEqual(await pages(plain, 'resender'));
      const n = await partitionCount(kafka, config.kafka.topics.events);
      const view = await startBareView({
        config: cfg,
        brokers: config.kafka.brokers as string[],
        partitionCount: n,
        partitions: shardPartitions(n, 1, 0),
        clickhouse: ch.client,
        log: silentLogger(),
        registry,
      });
      server.attachView(view, n);
      try {
        // Whenever /readyz says 200, every event ClickHouse holds is in the view already.
        for (;;) {
          const r = await readyz();
          if (r.status === 200) {
            expect(view.caughtUp()).toBe(true);
            expect(view.report()!.counts.applied).toBe(rows);
            break;
          }
          expect(r.status).toBe(503);
          expect(r.checks.view).toMatch(/starting|catching up/);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        await server.stop();
        await view.stop();
      }
    } finally {
      await server.stop();
    }
  });

  it('keeps within its byte budget by moving its horizon, and pages across it still equal ClickHouse', { timeout: 300_000 }, async () => {
    const v = await startView({ QUERY_VIEW_DAYS: '3650', QUERY_VIEW_MAX_BYTES: String(1024 * 1024) });
    await waitFor('the budget to move the horizon', async () => {
      const r = v.view.report();
      return r !== null && r.size.bytes <= 1024 * 1024 && r.horizon > now - 9 * DAY;
    }, 240_000);
    const r = v.view.report()!;
    expect(r.size.events).toBeLessThan(r.counts.applied);
    expect(r.size.events).toBeGreaterThan(0);
    for (const user of data.users) {
      expect(await pages(v.server, user, 'limit=3'), user).toEqual(await pages(plain, user, 'limit=3'));
      expect(await pages(v.server, user, 'type=track&limit=5'), user).toEqual(await pages(plain, user, 'type=track&limit=5'));
    }
  });

  it('is rebuilt to hold the older days when QUERY_VIEW_DAYS is raised, and kept when it is lowered or the same', { timeout: 300_000 }, async () => {
    const d = tempDir();
    viewDirs.push(d);
    const run = async (days: string, until: (r: BuilderReport) => boolean = () => true) => {
      const v = await queryComponent({
        config: testConfig(d.path, {
          KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
          KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
          KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
          QUERY_VIEW_DAYS: days,
        }),
        brokers: config.kafka.brokers as string[],
        clickhouse: ch.client,
        log: silentLogger(),
        registry: createRegistry('q', false),
      });
      try {
        await waitFor('the view to catch up', async () => v.view.caughtUp() && until(v.view.report()!), 240_000);
        const r = v.view.report()!;
        const olderPage = await pages(v.server, data.users[0]!, 'limit=1000');
        return { horizon: r.horizon, held: r.size.events, applied: r.counts.applied, olderPage };
      } finally {
        await v.stop();
      }
    };
    const total = await count(ch.client, 'SELECT count() FROM events');
    // Three days of the nine the data spans.
    const narrow = await run('3');
    expect(narrow.horizon).toBeGreaterThan(now - 4 * DAY);
    expect(narrow.held).toBeLessThan(total);
    expect(narrow.applied).toBeGreaterThan(0);
    // Raised: rebuilt from Kafka, so every event is held (before, the horizon only moved forward).
    const wide = await run('30');
    expect(wide.horizon).toBeLessThanOrEqual(now - 29 * DAY);
    expect(wide.held).toBe(total);
    expect(wide.applied).toBe(total);
    expect(wide.olderPage).toEqual(narrow.olderPage);
    // The same setting again, then a lower one: resumed, nothing read again.
    const same = await run('30');
    expect(same.applied).toBe(0);
    expect(same.held).toBe(total);
    const lower = await run('3', (r) => r.horizon > now - 4 * DAY);
    expect(lower.applied).toBe(0);
  });

  it('starts its hosted stream only once the view has caught up', async () => {
    // A stream that notes what the view's caught-up gauge said when it was started.
    const registry = createRegistry('q', false);
    let atStart: Promise<number | null> | null = null;
    const stream: HostedStream = {
      routes() {},
      answer: async () => '',
      start() {
        const gauge = registry.getSingleMetric('trackhouse_query_view_caught_up');
        atStart = gauge === undefined ? Promise.resolve(null) : gauge.get().then((m) => m.values[0]?.value ?? null);
      },
      stop: async () => {},
    };
    const d = tempDir();
    viewDirs.push(d);
    const v = await queryComponent({
      config: testConfig(d.path, { KAFKA_TOPIC_EVENTS: config.kafka.topics.events, KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected, KAFKA_TOPIC_DLQ: config.kafka.topics.dlq }),
      brokers: config.kafka.brokers as string[],
      clickhouse: ch.client,
      log: silentLogger(),
      registry,
      stream,
    });
    views.push(v);
    await waitFor('the stream to be started', async () => atStart !== null, 240_000);
    expect(await atStart).toBe(1);
    expect(v.view.caughtUp()).toBe(true);
  });

  it('deletes one user from the view and leaves the others', async () => {
    const v = views[0]!;
    const [gone, kept] = data.users;
    expect(JSON.parse((await pages(v.server, gone!))[0]!.text).events.length).toBeGreaterThan(0);
    expect(await v.view.deleteUser(gone!)).toBeGreaterThan(0);
    expect(await pages(v.server, gone!)).toEqual([{ status: 200, text: '{"events":[],"next_cursor":null}' }]);
    expect(await pages(v.server, kept!)).toEqual(await pages(plain, kept!));
  });
});
