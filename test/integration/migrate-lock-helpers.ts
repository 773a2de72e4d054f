// A ClickHouse at migration 003 holding rows that 004 rebuilds, served over ClickHouse's HTTP
// interface (the split deployment's stand-in), `trackhouse migrate` processes against it, and the
// rollups compared with the counts of `events`: for the tests of the migrations lock.
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { loadMigrations, migrate, MIGRATIONS_DIR, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { runCli, type CliProcess } from '../support/cli.js';
import { serveClickHouseHttp, type ClickHouseHttp, type StatementGate } from '../support/clickhouse-http.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { insertRows, type Row } from './query-helpers.js';

const IN_RANGE = "timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')";
/** Each rollup, the `events` column it is keyed by, and the rows its view leaves out. */
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
  add('1969-12-31T23:00:00.000Z', 2, 'before'); // out of range
  add('1970-01-01T12:00:00.000Z', 4, 'epoch');
  add('2026-08-01T10:00:00.000Z', 6, 'plain'); // not rebuilt
  return out;
}

export interface MigrationsServer {
  ch: ClickHouseHandle;
  http: ClickHouseHttp;
  /** `trackhouse migrate` as the Kubernetes Job runs it, against the server, with the test's lock. */
  runner(env?: Record<string, string>): CliProcess;
  /** The settings of the test's lock (its own topic and group). */
  lockEnv: Record<string, string>;
  /** The versions after 003. */
  pending(): number[];
  /** Per rollup: [day, key, events in the rollup, events of `events` in range]. */
  compare(): Promise<Record<string, [string, string, number, number][]>>;
  /** Rollups as they must be: each row's rollup count equal to the count of `events`. */
  matching(c: Record<string, [string, string, number, number][]>): Record<string, [string, string, number, number][]>;
  recorded(): Promise<{ n: string; v: string }[]>;
  close(): Promise<void>;
}

export async function migrationsServer(gate: StatementGate): Promise<MigrationsServer> {
  const dir = tempDir('trackhouse-miglock-');
  const upTo003 = tempDir('trackhouse-migrations-003-');
  for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => /^00[123]_.*\.sql$/.test(f))) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003.path, f));
  const cfg = testConfig(dir.path);
  const ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
  expect(await migrate(ch.client, silentLogger(), upTo003.path)).toEqual({ applied: [1, 2, 3], skipped: [] });
  const all = rows();
  // Two inserts, as the sink makes them: rollup rows of one day in separate parts.
  await insertRows(ch, all.slice(0, 9));
  await insertRows(ch, all.slice(9));
  const http = await serveClickHouseHttp(ch.client, { gate });
  const topics = uniqueTopicEnv('miglock');
  const lockEnv = { KAFKA_TOPIC_MIGRATIONS_LEASE: `${topics.KAFKA_TOPIC_EVENTS}.lease`, MIGRATIONS_LEASE_GROUP: `${topics.SINK_GROUP_ID}-migrations` };
  return {
    ch,
    http,
    lockEnv,
    runner: (env = {}) =>
      runCli(['migrate'], {
        ...(topics as Record<string, string>),
        ...lockEnv,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        CLICKHOUSE_URL: http.url,
        TRACKHOUSE_DATA_DIR: path.join(dir.path, 'runner'),
        LOG_LEVEL: 'info',
        ...env,
      }),
    pending: () => loadMigrations().map((m) => m.version).filter((v) => v > 3),
    async compare() {
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
    },
    matching: (c) => Object.fromEntries(Object.entries(c).map(([table, rows]) => [table, rows.map(([day, key, , counted]) => [day, key, counted, counted] as [string, string, number, number])])),
    async recorded() {
      const rs = await ch.client.query({ query: 'SELECT toString(count()) AS n, toString(uniqExact(version)) AS v FROM trackhouse_migrations', format: 'JSONEachRow' });
      return rs.json<{ n: string; v: string }>();
    },
    async close() {
      await http.close();
      await ch.close();
      dir.remove();
      upTo003.remove();
    },
  };
}

/** The versions a runner applied, from its `migrations up to date` line. */
export const appliedBy = (cli: CliProcess): number[] => (cli.logs().find((l) => l.msg === 'migrations up to date')?.applied as number[] | undefined) ?? [];
