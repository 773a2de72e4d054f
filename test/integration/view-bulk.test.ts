// A view built in bulk (src/view/bulk.ts: runs sorted by key, merged into LMDB with MDB_APPEND),
// killed with -9 while it takes runs, then again while it merges: each start resumes from the last
// checkpoint (its runs, and the offsets, windows and day stats they reflect), and the view then
// answers every page as ClickHouse does (resends dropped), and holds as many events as ClickHouse.
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

describe('a view built in bulk', () => {
  const dir = tempDir();
  const viewDir = tempDir();
  let backend: SplitBackend;
  let env: Env;
  const now = Date.now();
  const data = randomEvents(41, 60_000, 300, now - 5 * DAY, now);
  // The topic holds these when the first process starts; the rest (resends of earlier ones among
  // them) come while it is down, so the resumed build reads on from its checkpoint.
  const early = data.events.slice(0, 40_000);
  const later = data.events.slice(early.length);

  beforeAll(async () => {
    backend = await splitBackend(dir.path, early);
    env = {
      ...backend.queryEnv(viewDir.path, KEY),
      QUERY_PORT: '0',
      QUERY_VIEW_DAYS: '30',
      // Bulk for this small topic, in several runs (a transaction's worth of records each).
      QUERY_VIEW_BULK_RECORDS: '1',
      QUERY_VIEW_CATCHUP_RECORDS: '7000',
    };
  });
  afterAll(async () => {
    await backend?.stop();
    dir.remove();
    viewDir.remove();
  });

  it('resumes from its last checkpoint after a kill -9 while it takes runs and another in its merge, then answers every page as ClickHouse does', { timeout: 600_000 }, async () => {
    const viewPath = path.join(viewDir.path, 'view');
    const topic = backend.config.kafka.topics.events;
    const leftState = async () => {
      const left = attachState({ path: viewPath, databases: VIEW_DATABASES });
      try {
        return { mark: left.getMeta<BulkMark>(BULK_META), offsets: [...left.offsets(topic).values()].reduce((a, n) => a + n, 0), events: left.db('events').getCount() };
      } finally {
        await left.close();
      }
    };

    // 1. A checkpoint after every run; the test hook kills the process once the first has committed.
    const first = spawnQuery({ ...env, QUERY_VIEW_BULK_CHECKPOINT_MS: '0', QUERY_VIEW_TEST_KILL_AFTER_RECORDS: '1' });
    expect((await first.exit).signal).toBe('SIGKILL');
    expect(first.log.some((l) => l.includes('"view bulk build: merging its runs into the view"'))).toBe(false);
    const taking = await leftState();
    expect(taking.mark?.runs?.length).toBeGreaterThan(0);
    expect(taking.offsets).toBeGreaterThan(0);
    expect(taking.offsets).toBeLessThanOrEqual(early.length);
    expect(taking.events).toBe(0);
    await produce(backend.kafka, topic, later);

    // 2. Resumed; no checkpoint but the one before the merge (which does not call the hook), so the kill comes in the merge.
    const second = spawnQuery({ ...env, QUERY_VIEW_BULK_CHECKPOINT_MS: '3600000', QUERY_VIEW_TEST_KILL_AFTER_RECORDS: '1' });
    expect((await second.exit).signal).toBe('SIGKILL');
    expect(second.log.some((l) => l.includes('"view bulk build resumed from its last checkpoint'))).toBe(true);
    expect(second.log.some((l) => l.includes('"view bulk build: merging its runs into the view"'))).toBe(true);
    const merging = await leftState();
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
      const { config, kafka, ch, plain } = backend;
      await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
      const rows = await count(ch.client, 'SELECT count() FROM events');
      expect(rows).toBeLessThan(data.events.length); // resends were dropped
      expect(metricValue(await metricsText(`http://127.0.0.1:${port}`), 'trackhouse_query_view_events')).toBe(rows);
      expect((JSON.parse(merged!) as { events: number }).events).toBe(rows);
      // Every user's whole history; paged and filtered, every fifth user's (ClickHouse answers the reference pages one at a time).
      for (const [i, user] of data.users.entries()) {
        for (const query of i % 5 === 0 ? ['limit=1000', 'limit=7', 'type=track&limit=5'] : ['limit=1000']) {
          const req = { user, query };
          expect(await allPages(`http://127.0.0.1:${port}`, KEY, req), `${user} ${query}`).toEqual(await allPages(`http://127.0.0.1:${plain.port}`, KEY, req));
        }
      }
    } finally {
      await q.stop();
    }
  });
});
