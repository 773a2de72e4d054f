// A view built in bulk (src/view/bulk.ts: runs sorted by key, merged into LMDB with MDB_APPEND),
// killed with -9 while it merges, then started again: the half-merged state carries the bulk mark
// and no offsets, so the restart wipes it and builds it again; the view then answers every page as
// ClickHouse does (resends dropped), and holds as many events as ClickHouse. Against the real
// broker, with `trackhouse query` as its own process reaching chDB through CLICKHOUSE_URL.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/index.js';
import { attachState } from '../../src/state/statestore.js';
import { BULK_META } from '../../src/view/bulk.js';
import { VIEW_DATABASES } from '../../src/view/viewstore.js';
import { tempDir } from '../support/env.js';
import { metricsText, metricValue } from './ingest-support.js';
import { caughtUp, count } from './sink-helpers.js';
import { allPages, DAY, randomEvents, splitBackend, type SplitBackend } from './view-helpers.js';
import { spawnQuery } from './view-process.js';

const KEY = 'test-read-key';

describe('a view built in bulk', () => {
  const dir = tempDir();
  const viewDir = tempDir();
  let backend: SplitBackend;
  let env: Env;
  const now = Date.now();
  const data = randomEvents(41, 40_000, 300, now - 5 * DAY, now);

  beforeAll(async () => {
    backend = await splitBackend(dir.path, data.events);
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

  it('is wiped and built again after a kill -9 in its merge, then answers every page as ClickHouse does', { timeout: 600_000 }, async () => {
    const viewPath = path.join(viewDir.path, 'view');
    // The test hook kills the process once a transaction of the merge has committed.
    const killed = spawnQuery({ ...env, QUERY_VIEW_TEST_KILL_AFTER_RECORDS: '1' });
    const exit = await killed.exit;
    expect(exit.signal).toBe('SIGKILL');
    expect(killed.log.some((l) => l.includes('"view bulk build: merging its runs into the view"'))).toBe(true);
    const left = attachState({ path: viewPath, databases: VIEW_DATABASES });
    try {
      expect(left.getMeta(BULK_META)).toBeDefined();
      expect(left.offsets(backend.config.kafka.topics.events).size).toBe(0);
      expect(left.db('events').getCount()).toBeGreaterThan(0);
    } finally {
      await left.close();
    }

    const q = spawnQuery(env);
    const port = await q.port;
    await q.ready();
    try {
      expect(q.log.some((l) => l.includes('"local state wiped; it will be rebuilt"') && l.includes('bulk build'))).toBe(true);
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
