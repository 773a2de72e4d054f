// Several processes apply the migrations at the same moment against one ClickHouse server (chDB
// served over ClickHouse's HTTP interface stands in for it), as on a first install or a release:
// the Kubernetes migrate Job and every sink replica start together. Migration 004 rebuilds rollup
// rows (a delete, then an insert from `events`); three runners interleaved counted them three
// times. Under the migrations lock (a Kafka lease) one runner applies them, the others wait and
// find nothing left, and the rollups equal the counts of `events`. A runner that cannot get the
// lock within MIGRATIONS_WAIT_TIMEOUT_MS gives up, naming the setting, and changes nothing.
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka, createLease, ensureLeaseTopic } from '../../src/kafka/index.js';
import { loadMigrations, migrate, MIGRATIONS_DIR, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { runCli } from '../support/cli.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { insertRows, type Row } from './query-helpers.js';

const IN_RANGE = "timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')";
/** Each rollup and the `events` column it is keyed by. */
const ROLLUPS = [
  ['events_daily_by_event', 'event', ''],
  ['events_daily_by_category', 'category', "category != '' AND "],
  ['events_daily_by_group', 'group_id', "group_id != '' AND "],
] as const;

/** Events on days 004 rebuilds (out-of-range ones wrapped onto them before 004) and on others. */
function rows(): Row[] {
  const out: Row[] = [];
  const add = (iso: string, n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      out.push({ event_id: `${tag}-${i}`, user_id: `u-${tag}-${i % 3}`, timestamp: Date.parse(iso) + i, event: `E${i % 2}`, category: `c${i % 2}`, group_id: `g${i % 2}` });
    }
  };
  add('1900-01-01T00:00:00.000Z', 3, 'old'); // out of range: toDate() put it on 2079-06-07
  add('2079-06-07T12:00:00.000Z', 5, 'wrapped'); // a real day 004 rebuilds
  add('1969-12-31T23:00:00.000Z', 2, 'before'); // out of range: on 1970-01-01
  add('1970-01-01T12:00:00.000Z', 4, 'epoch'); // a real day 004 rebuilds
  add('2026-08-01T10:00:00.000Z', 6, 'plain'); // not rebuilt
  return out;
}

describe('migrations run by several processes at once', () => {
  const dir = tempDir('trackhouse-migrate-concurrent-');
  const upTo003 = tempDir('trackhouse-migrations-003-');
  const topics = uniqueTopicEnv('miglock');
  const lockEnv = { KAFKA_TOPIC_MIGRATIONS_LEASE: `${topics.KAFKA_TOPIC_EVENTS}.lease`, MIGRATIONS_LEASE_GROUP: `miglock-${process.pid}-${Date.now()}` };
  let ch: ClickHouseHandle;
  let http: ClickHouseHttp;

  /** `trackhouse migrate` as the Job runs it, against the ClickHouse server. */
  const runner = (env: Record<string, string> = {}) =>
    runCli(['migrate'], {
      ...topics,
      ...lockEnv,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      CLICKHOUSE_URL: http.url,
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'runner'),
      LOG_LEVEL: 'info',
      ...env,
    });
  const applied = (cli: ReturnType<typeof runner>) => (cli.logs().find((l) => l.msg === 'migrations up to date')?.applied as number[] | undefined) ?? null;
  const pending = () => loadMigrations().map((m) => m.version).filter((v) => v > 3);

  /** Per rollup: [day, key, events in the rollup, events of `events` in range]. */
  const compare = async () => {
    const out: Record<string, [string, string, number, number][]> = {};
    for (const [table, column, filter] of ROLLUPS) {
      const rs = await ch.client.query({
        query: `SELECT toString(day) AS day, key, toUInt64(sum(r)) AS rolled, toUInt64(sum(e)) AS counted FROM (
                  SELECT day, ${column} AS key, sum(events) AS r, 0 AS e FROM ${table} GROUP BY day, key
                  UNION ALL
                  SELECT toDate(timestamp) AS day, ${column} AS key, 0 AS r, count() AS e FROM events WHERE ${filter}${IN_RANGE} GROUP BY day, key
                ) GROUP BY day, key ORDER BY day, key`,
        format: 'JSONEachRow',
      });
      out[table] = (await rs.json<{ day: string; key: string; rolled: string; counted: string }>()).map((r) => [r.day, r.key, Number(r.rolled), Number(r.counted)]);
    }
    return out;
  };

  beforeAll(async () => {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => /^00[123]_.*\.sql$/.test(f))) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003.path, f));
    const cfg = testConfig(dir.path);
    ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
    expect(await migrate(ch.client, silentLogger(), upTo003.path)).toEqual({ applied: [1, 2, 3], skipped: [] });
    const all = rows();
    // Two inserts, as the sink makes them: rollup rows of one day in separate parts.
    await insertRows(ch, all.slice(0, 9));
    await insertRows(ch, all.slice(9));
    // Runners that start apart by more than a statement's time ran 004 one after the other by
    // chance: its first delete is held until all three runners send it (or 5 s pass, as when
    // only one runner at a time gets there).
    http = await serveClickHouseHttp(ch.client, { gate: { match: /ALTER TABLE events_daily_by_event DELETE/, count: 3, timeoutMs: 5_000 } });
  });
  afterAll(async () => {
    await http?.close();
    await ch?.close();
    dir.remove();
    upTo003.remove();
  });

  it('a runner that waits longer than MIGRATIONS_WAIT_TIMEOUT_MS gives up, naming it, and changes nothing', async () => {
    const cfg = testConfig(dir.path, lockEnv);
    const kafka = createKafka(cfg.kafka, silentLogger());
    await ensureLeaseTopic(kafka, cfg.clickhouse.migrations.leaseTopic, cfg.kafka.replicationFactor);
    // Another process holds the lock (a runner stuck in a long migration).
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const other = createLease(kafka, {
      topic: cfg.clickhouse.migrations.leaseTopic,
      groupId: cfg.clickhouse.migrations.leaseGroup,
      sessionTimeoutMs: 10_000,
      log: silentLogger(),
      name: 'migrations',
      holderDoes: 'the test holds it',
      sticky: true,
      onChange: (leader) => leader && holding(),
    });
    await other.start();
    try {
      await held;
      const cli = runner({ MIGRATIONS_WAIT_TIMEOUT_MS: '3000' });
      expect(await cli.exited).toBe(2);
      expect(cli.logs().map((l) => l.msg)).toContain("waiting for another process's migrations: it holds the migrations lease");
      expect(cli.stderr()).toMatch(/^trackhouse: waited 3000 ms \(MIGRATIONS_WAIT_TIMEOUT_MS\) for another process's ClickHouse migrations/m);
      expect(cli.stderr()).toContain(`consumer group ${lockEnv.MIGRATIONS_LEASE_GROUP}`);
      const rs = await ch.client.query({ query: 'SELECT toString(max(version)) AS v FROM trackhouse_migrations', format: 'JSONEachRow' });
      expect(await rs.json()).toEqual([{ v: '3' }]);
    } finally {
      await other.stop();
    }
  });

  it('three runners at once: one applies what is missing, the others find nothing left, rollups equal the counts of events', async () => {
    const before = await compare();
    // 002's views put the out-of-range events on wrapped days: what 004 repairs.
    expect(before.events_daily_by_event!.some(([, , rolled, counted]) => rolled !== counted)).toBe(true);

    const runners = [runner(), runner(), runner()];
    const codes = await Promise.all(runners.map((r) => r.exited));
    expect(codes, runners.map((r) => r.stdout() + r.stderr()).join('\n')).toEqual([0, 0, 0]);
    const after = await compare();
    // [day, key, rollup's events, events' count]: the two equal on every row.
    const equal = Object.fromEntries(Object.entries(after).map(([table, rows]) => [table, rows.map(([day, key, , counted]) => [day, key, counted, counted])]));
    expect(after).toEqual(equal);
    // Each missing migration applied by exactly one runner.
    const appliedBy = runners.map(applied);
    expect(appliedBy.flatMap((a) => a ?? []).sort((a, b) => a - b)).toEqual(pending());
    const rs = await ch.client.query({ query: 'SELECT toString(count()) AS n, toString(uniqExact(version)) AS v FROM trackhouse_migrations', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ n: String(3 + pending().length), v: String(3 + pending().length) }]);
  });
});
