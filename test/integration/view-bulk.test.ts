// A view built in bulk (src/view/bulk.ts: runs sorted by key, merged into LMDB with MDB_APPEND),
// killed with -9 while it takes runs, then again while it merges: each start resumes from the last
// checkpoint (its runs, and the offsets, windows and day stats they reflect), and the view then
// answers every page as ClickHouse does (resends dropped), and holds as many events as ClickHouse.
// And a build whose checkpoint the topic's retention has passed while it was down: built again,
// what Kafka no longer holds from ClickHouse.
// Against the real broker, with `trackhouse query` as its own process reaching chDB through
// CLICKHOUSE_URL.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/index.js';
import { attachState } from '../../src/state/statestore.js';
import { BULK_META, type BulkMark } from '../../src/view/bulk.js';
import { VIEW_DATABASES } from '../../src/view/viewstore.js';
import { tempDir } from '../support/env.js';
import { metricsText, metricValue } from './ingest-support.js';
import { caughtUp, count, produce } from './sink-helpers.js';
import { allPages, DAY, randomEvents, splitBackend, type SplitBackend } from './view-helpers.js';
import { spawnQuery } from './view-process.js';

const KEY = 'test-read-key';

/** What a killed process left in the view's state: its bulk mark, the sum of its stored offsets, its events. */
async function leftState(viewPath: string, topic: string) {
  const left = attachState({ path: viewPath, databases: VIEW_DATABASES });
  try {
    return { mark: left.getMeta<BulkMark>(BULK_META), offsets: [...left.offsets(topic).values()].reduce((a, n) => a + n, 0), events: left.db('events').getCount() };
  } finally {
    await left.close();
  }
}

/** Every user's pages through the view equal ClickHouse's, and the view holds as many events. */
async function expectSameAsClickHouse(backend: SplitBackend, port: number, users: readonly string[]): Promise<number> {
  const { config, kafka, ch, plain } = backend;
  await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
  const rows = await count(ch.client, 'SELECT count() FROM events');
  expect(metricValue(await metricsText(`http://127.0.0.1:${port}`), 'trackhouse_query_view_events')).toBe(rows);
  // Every user's whole history; paged and filtered, every fifth user's (ClickHouse answers the reference pages one at a time).
  for (const [i, user] of users.entries()) {
    for (const query of i % 5 === 0 ? ['limit=1000', 'limit=7', 'type=track&limit=5'] : ['limit=1000']) {
      const req = { user, query };
      expect(await allPages(`http://127.0.0.1:${port}`, KEY, req), `${user} ${query}`).toEqual(await allPages(`http://127.0.0.1:${plain.port}`, KEY, req));
    }
  }
  return rows;
}

/**
 * A split backend whose topic holds the first `early` of `n` random events (the rest are for the
 * test to produce), and the environment of a view on it, built in bulk in runs of `runRecords`.
 * Registers its own set-up and tear-down.
 */
function bulkFixture(seed: number, n: number, users: number, early: number, runRecords: number) {
  const dir = tempDir();
  const viewDir = tempDir();
  const now = Date.now();
  const data = randomEvents(seed, n, users, now - 5 * DAY, now);
  const f = {
    data,
    early: data.events.slice(0, early),
    later: data.events.slice(early),
    viewPath: path.join(viewDir.path, 'view'),
    backend: undefined as unknown as SplitBackend,
    env: {} as Env,
    topic: '',
  };
  beforeAll(async () => {
    f.backend = await splitBackend(dir.path, f.early);
    f.topic = f.backend.config.kafka.topics.events;
    // Bulk for this small topic, in several runs (a transaction's worth of records each).
    f.env = { ...f.backend.queryEnv(viewDir.path, KEY), QUERY_PORT: '0', QUERY_VIEW_DAYS: '30', QUERY_VIEW_BULK_RECORDS: '1', QUERY_VIEW_CATCHUP_RECORDS: String(runRecords) };
  });
  afterAll(async () => {
    await f.backend?.stop();
    dir.remove();
    viewDir.remove();
  });
  return f;
}

type BulkFixture = ReturnType<typeof bulkFixture>;

/**
 * 1. (both tests) A process killed -9 once its first checkpoint has committed (a checkpoint after
 * every run; the test hook kills it then): runs taken, offsets stored (on a small topic, the end
 * may have been reached and the merge begun). Then the rest of the events are produced while it
 * is down.
 */
async function killedAfterFirstCheckpoint(f: BulkFixture) {
  const first = spawnQuery({ ...f.env, QUERY_VIEW_BULK_CHECKPOINT_MS: '0', QUERY_VIEW_TEST_KILL_AFTER_RECORDS: '1' });
  expect((await first.exit).signal).toBe('SIGKILL');
  const taking = await leftState(f.viewPath, f.topic);
  expect(taking.mark?.runs?.length).toBeGreaterThan(0);
  expect(taking.offsets).toBeGreaterThan(0);
  expect(taking.offsets).toBeLessThanOrEqual(f.early.length);
  await produce(f.backend.kafka, f.topic, f.later);
  return { ...taking, merging: first.log.some((l) => l.includes('"view bulk build: merging its runs into the view"')) };
}

describe('a view built in bulk', () => {
  // The topic holds the first 40 k when the first process starts; the rest (resends of earlier
  // ones among them) come while it is down, so the resumed build reads on from its checkpoint.
  const f = bulkFixture(41, 60_000, 300, 40_000, 7_000);

  it('resumes from its last checkpoint after a kill -9 while it takes runs and another in its merge, then answers every page as ClickHouse does', { timeout: 600_000 }, async () => {
    const { backend, env, data, viewPath, topic } = f;
    const taking = await killedAfterFirstCheckpoint(f);
    // Killed while it took runs: nothing merged yet.
    expect(taking.merging).toBe(false);
    expect(taking.events).toBe(0);

    // 2. Resumed; no checkpoint but the one before the merge (which does not call the hook), so the kill comes in the merge.
    const second = spawnQuery({ ...env, QUERY_VIEW_BULK_CHECKPOINT_MS: '3600000', QUERY_VIEW_TEST_KILL_AFTER_RECORDS: '1' });
    expect((await second.exit).signal).toBe('SIGKILL');
    expect(second.log.some((l) => l.includes('"view bulk build resumed from its last checkpoint'))).toBe(true);
    expect(second.log.some((l) => l.includes('"view bulk build: merging its runs into the view"'))).toBe(true);
    const merging = await leftState(viewPath, topic);
    expect(merging.mark?.runs?.length).toBeGreaterThan(taking.mark!.runs!.length);
    expect(merging.offsets).toBe(data.events.length);
    expect(merging.events).toBeGreaterThan(0);

    // 3. Resumed again: what the merge wrote is emptied, and every run merged again.
    const q = spawnQuery(env);
    const port = await q.port;
    await q.ready();
    try {
      expect(q.log.some((l) => l.includes('"local state wiped; it will be rebuilt"'))).toBe(false);
      expect(q.log.some((l) => l.includes('"view bulk build resumed from its last checkpoint'))).toBe(true);
      const merged = q.log.find((l) => l.includes('"view bulk build: merged"'));
      expect(merged).toBeDefined();
      expect(existsSync(path.join(viewPath, 'bulk'))).toBe(false);
      const rows = await expectSameAsClickHouse(backend, port, data.users);
      expect(rows).toBeLessThan(data.events.length); // resends were dropped
      expect((JSON.parse(merged!) as { events: number }).events).toBe(rows);
    } finally {
      await q.stop();
    }
  });
});

describe('a bulk build whose checkpoint the topic retention has passed', () => {
  const f = bulkFixture(43, 24_000, 120, 16_000, 3_000);

  it('is built again from the start, what Kafka no longer holds from ClickHouse, and answers every page as ClickHouse does', { timeout: 600_000 }, async () => {
    const { backend, env, data, viewPath, topic } = f;
    await killedAfterFirstCheckpoint(f);

    // 2. Retention takes every record while it is down (the sink has them in ClickHouse): the
    // checkpoint's offsets are below the topic's first one.
    await caughtUp(backend.kafka, topic, backend.config.sink.groupId);
    const admin = backend.kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.deleteTopicRecords({ topic, partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })) });
      const after = await admin.fetchTopicOffsets(topic);
      expect(after.every((o) => o.low === o.high)).toBe(true);
    } finally {
      await admin.disconnect();
    }

    // 3. The resumed build finds the gap before reading anything; the next thread clears the state and builds it from ClickHouse.
    const q = spawnQuery(env);
    const port = await q.port;
    await q.ready();
    try {
      expect(q.log.some((l) => l.includes('the topic no longer holds the records after the bulk build checkpoint'))).toBe(true);
      expect(q.log.some((l) => l.includes('"view builder stopped unexpectedly; restarting it"'))).toBe(true);
      expect(q.log.some((l) => l.includes('"view backfilled from ClickHouse"'))).toBe(true);
      expect(existsSync(path.join(viewPath, 'bulk'))).toBe(false);
      const rows = await expectSameAsClickHouse(backend, port, data.users);
      expect(rows).toBeGreaterThan(data.events.length / 2);
    } finally {
      await q.stop();
    }
    const left = await leftState(viewPath, topic);
    expect(left.mark).toBeUndefined();
    expect(left.events).toBeGreaterThan(data.events.length / 2);
  });
});
