// kill -9 at random moments while a view builds, then a restart: the view resumes from the offsets
// it stored with its data and ends up exactly as ClickHouse (nothing lost, nothing applied twice,
// resends whose originals came before a crash still dropped). `trackhouse query` runs as its own
// process, reaching ClickHouse through CLICKHOUSE_URL; /readyz says 503 until it has caught up.
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../src/warehouse/index.js';
import type { Config, Env } from '../../src/config/index.js';
import type { QueryServer } from '../../src/query/index.js';
import { attachState } from '../../src/state/statestore.js';
import { VIEW_DATABASES } from '../../src/view/viewstore.js';
import { tempDir } from '../support/env.js';
import { caughtUp, count, produce, waitFor } from './sink-helpers.js';
import { allPages, DAY, randomEvents, rng, splitBackend, type SplitBackend } from './view-helpers.js';
import { spawnQuery } from './view-process.js';

const KEY = 'test-read-key';

/** Sum of a metric's samples (with `label` in their labels) in /metrics. */
async function metric(port: number, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*${label}[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[2]);
  return sum;
}

describe('a view killed while it builds', () => {
  const dir = tempDir();
  const viewDir = tempDir();
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let backend: SplitBackend;
  let plain: QueryServer;
  let env: Env;
  const now = Date.now();
  const data = randomEvents(31, 60_000, 300, now - 5 * DAY, now);

  beforeAll(async () => {
    backend = await splitBackend(dir.path, data.events);
    ({ config, kafka, ch, plain } = backend);
    env = {
      ...backend.queryEnv(viewDir.path, KEY),
      QUERY_PORT: '0',
      QUERY_VIEW_DAYS: '30',
      // Several transactions in this 60k-event build, so a kill lands with one committed and one in
      // flight (and one gathering over fetches: the build is far behind, see CATCH_UP_RECORDS).
      QUERY_VIEW_COMMIT_RECORDS: '5000',
      QUERY_VIEW_CATCHUP_RECORDS: '10000',
    };
  });
  afterAll(async () => {
    await backend?.stop();
    dir.remove();
    viewDir.remove();
  });

  it('resumes after each kill -9 with nothing lost or doubled, and is not ready until caught up', { timeout: 600_000 }, async () => {
    const random = rng(7);
    let killedWhileBuilding = 0;
    // Restarts that found offsets stored by a killed process; each must read on from them.
    let resumed = 0;
    let stored = new Map<number, number>();
    const storedOffsets = () => storedOffsetsOf(viewDir.path, config.kafka.topics.events);
    const startedFrom = (log: string[]) => {
      const line = log.find((l) => l.includes('"view reading Kafka"'));
      return line === undefined ? null : new Map(Object.entries((JSON.parse(line) as { from: Record<string, number> }).from).map(([p, o]) => [Number(p), o]));
    };
    /** The process read each partition from at or below what the killed one had stored: nothing skipped. */
    const expectResumedFrom = (from: Map<number, number> | null, stored: Map<number, number>) => {
      expect(from).not.toBeNull();
      expect([...from!.keys()].sort()).toEqual([...stored.keys()].sort());
      for (const [p, next] of stored) expect(from!.get(p)!).toBeLessThanOrEqual(next);
      if ([...stored.values()].some((o) => o > 0)) resumed++;
    };
    for (let round = 0; round < 3; round++) {
      // A random point of the build: the process kills itself (QUERY_VIEW_TEST_KILL_AFTER_RECORDS)
      // once it has handled that many records, its last transaction possibly still committing.
      const target = 2_000 + Math.floor(random() * 12_000);
      const q = spawnQuery({ ...env, QUERY_VIEW_TEST_KILL_AFTER_RECORDS: String(target) });
      const port = await q.port;
      // Fewer records than that left to read: it catches up instead; kill it then.
      const gone = () => q.proc.exitCode !== null || q.proc.signalCode !== null;
      const caughtUpFirst = waitFor(
        'the view to kill itself or catch up',
        async () => gone() || (await metric(port, 'trackhouse_query_view_caught_up').catch(() => 0)) === 1,
        240_000,
      );
      const exit = await Promise.race([q.exit, caughtUpFirst.then(() => (q.proc.kill('SIGKILL'), q.exit))]).catch((err: Error) => {
        throw new Error(`${err.message}\n${q.log.slice(-30).join('\n')}`);
      });
      void caughtUpFirst.catch(() => {});
      expect(exit.signal).toBe('SIGKILL');
      if (round > 0) expectResumedFrom(startedFrom(q.log), stored);
      stored = await storedOffsets();
      if ([...stored.values()].reduce((a, b) => a + b, 0) < data.events.length) killedWhileBuilding++;
    }
    expect(killedWhileBuilding).toBeGreaterThan(0);

    const q = spawnQuery(env);
    const port = await q.port;
    const first = await fetch(`http://127.0.0.1:${port}/readyz`);
    await waitFor('the restarted view to read Kafka', async () => startedFrom(q.log) !== null);
    expectResumedFrom(startedFrom(q.log), stored);
    expect(resumed).toBeGreaterThanOrEqual(2);
    const firstBody = (await first.json()) as { checks: Record<string, string> };
    await q.ready();
    try {
      await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
      for (const user of data.users) {
        const req = { user, query: 'limit=1000' };
        expect(await allPages(`http://127.0.0.1:${port}`, KEY, req), user).toEqual(await allPages(`http://127.0.0.1:${plain.port}`, KEY, req));
      }
      const rows = await count(ch.client, 'SELECT count() FROM events');
      expect(await metric(port, 'trackhouse_query_view_events')).toBe(rows);
      // Not ready while it caught up after the last restart (unless it had nothing left to do).
      if (first.status === 503) expect(firstBody.checks.view).toMatch(/starting|catching up/);
    } finally {
      await q.stop();
    }
  });

  it('serves new events before it commits them, and after a kill -9 then has each exactly once', { timeout: 300_000 }, async () => {
    // Commits far apart: the new events stay applied and uncommitted while the test looks.
    const q = spawnQuery({ ...env, QUERY_VIEW_COMMIT_MS: '60000' });
    const port = await q.port;
    await q.ready();
    const before = await storedOffsetsOf(viewDir.path, config.kafka.topics.events);
    const more = randomEvents(32, 3_000, 300, now - DAY, now);
    await produce(kafka, config.kafka.topics.events, more.events);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    const rows = await count(ch.client, 'SELECT count() FROM events');
    const users = [...new Set([...data.users, ...more.users])];
    try {
      // Every page as ClickHouse has it, the new events included...
      await waitFor(
        'the new events in the view',
        async () => (await metric(port, 'trackhouse_query_view_events')) + (await metric(port, 'trackhouse_query_view_pending_events')) === rows,
      );
      for (const user of users) {
        const req = { user, query: 'limit=1000' };
        expect(await allPages(`http://127.0.0.1:${port}`, KEY, req), user).toEqual(await allPages(`http://127.0.0.1:${plain.port}`, KEY, req));
      }
      // ...served before their commit: the stored offsets and the view's committed count are as before.
      expect(await storedOffsetsOf(viewDir.path, config.kafka.topics.events)).toEqual(before);
      const pending = await metric(port, 'trackhouse_query_view_pending_events');
      expect(pending).toBeGreaterThan(2_500);
      expect(await metric(port, 'trackhouse_query_view_events')).toBe(rows - pending);
    } finally {
      q.proc.kill('SIGKILL');
      await q.exit;
    }
    // Killed with them uncommitted: the next process reads them from Kafka again, once.
    const again = spawnQuery(env);
    const againPort = await again.port;
    await again.ready();
    try {
      for (const user of users) {
        const req = { user, query: 'limit=1000' };
        expect(await allPages(`http://127.0.0.1:${againPort}`, KEY, req), user).toEqual(await allPages(`http://127.0.0.1:${plain.port}`, KEY, req));
      }
      await waitFor('the events committed', async () => (await metric(againPort, 'trackhouse_query_view_events')) === rows);
      expect(await metric(againPort, 'trackhouse_query_view_pending_events')).toBe(0);
    } finally {
      await again.stop();
    }
  });
});

/** The offsets stored in the view's state (read beside a running process: LMDB has many readers). */
async function storedOffsetsOf(dataDir: string, topic: string): Promise<Map<number, number>> {
  const state = attachState({ path: path.join(dataDir, 'view'), databases: VIEW_DATABASES });
  try {
    return state.offsets(topic);
  } finally {
    await state.close();
  }
}
