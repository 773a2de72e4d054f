// clickhouse/004_rollups_date_range.sql on a data dir that the views of 002 filled wrongly: events
// outside ClickHouse Date's range (1970-01-01 to 2149-06-06) were counted on the day toDate()
// wraps them to. After 004 (interrupted, finished by the next migrate, and run again in full,
// through the HTTP interface as on a ClickHouse server) the rollups hold exactly the in-range
// events, each on its day, and the views count only those from then on; the erasure's day
// rebuild keeps the same rule.
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { loadConfig } from '../../src/config/index.js';
import { ErasureStore } from '../../src/regulations/store.js';
import { loadMigrations, migrate, MIGRATIONS_DIR, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { tempDir, testConfig } from '../support/env.js';
import { insertRows, type Row } from './query-helpers.js';

const t = (iso: string) => Date.parse(iso);
const dated = (id: string, iso: string, over: Partial<Row> = {}): Row => ({ event_id: id, user_id: `u-${id}`, timestamp: t(iso), event: 'E', category: 'c', group_id: 'g', ...over });

const ROWS: Row[] = [
  dated('a', '1900-01-01T00:00:00.000Z'), // out: was counted on 2079-06-07
  dated('b', '1969-12-31T23:59:59.999Z'), // out: was counted on 1970-01-01
  dated('c', '1970-01-01T12:00:00.000Z'),
  dated('d', '2079-06-07T12:00:00.000Z'), // a real event of the day 1900-01-01 was counted on
  dated('e', '2149-06-06T23:59:59.999Z'),
  dated('f', '2149-06-07T00:00:00.000Z'), // out: was counted on 1970-01-01
  dated('g', '2299-12-31T00:00:00.000Z'), // out: was counted on 2120-07-26
  dated('h', '2120-07-26T08:00:00.000Z'), // a real event of the day 2299-12-31 was counted on
  dated('i', '2026-08-01T10:00:00.000Z', { category: '', group_id: '' }),
];

/** [day, events, users] of each rollup as 002's views left it, and as it must be. */
const WRONG = [['1970-01-01', 3, 3], ['2026-08-01', 1, 1], ['2079-06-07', 2, 2], ['2120-07-26', 2, 2], ['2149-06-06', 1, 1]];
const RIGHT = [['1970-01-01', 1, 1], ['2026-08-01', 1, 1], ['2079-06-07', 1, 1], ['2120-07-26', 1, 1], ['2149-06-06', 1, 1]];
const withoutKeyless = (rows: (string | number)[][]) => rows.filter((r) => r[0] !== '2026-08-01');
const TABLES = ['events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group'] as const;

describe('migration 004: rollups count only the days a Date holds', () => {
  const dir = tempDir();
  const upTo003 = tempDir('trackhouse-migrations-003-');
  let ch: ClickHouseHandle;
  let http: ClickHouseHttp | undefined;
  let remote: ClickHouseHandle | undefined;

  const rollups = async (h: ClickHouseHandle) => {
    const out: Record<string, (string | number)[][]> = {};
    for (const table of TABLES) {
      const rs = await h.client.query({
        query: `SELECT toString(day) AS day, toString(sum(events)) AS events, toString(uniqExactMerge(users)) AS users FROM ${table} GROUP BY day ORDER BY day`,
        format: 'JSONEachRow',
      });
      out[table] = (await rs.json<{ day: string; events: string; users: string }>()).map((r) => [r.day, Number(r.events), Number(r.users)]);
    }
    return out;
  };
  const expected = (rows: (string | number)[][]) => ({
    events_daily_by_event: rows,
    events_daily_by_category: withoutKeyless(rows),
    events_daily_by_group: withoutKeyless(rows),
  });

  beforeAll(async () => {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => /^00[123]_.*\.sql$/.test(f))) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003.path, f));
    const cfg = testConfig(dir.path);
    ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
    expect(await migrate(ch.client, silentLogger(), upTo003.path)).toEqual({ applied: [1, 2, 3], skipped: [] });
    // Two inserts, as the sink makes them: rollup rows of one day in separate parts.
    await insertRows(ch, ROWS.slice(0, 5));
    await insertRows(ch, ROWS.slice(5));
  });
  afterAll(async () => {
    await remote?.close();
    await http?.close();
    await ch?.close();
    dir.remove();
    upTo003.remove();
  });

  it('starts from the wrong days 002\'s views counted', async () => {
    expect(await rollups(ch)).toEqual(expected(WRONG));
  });

  it('repairs them, finishing an interrupted run, and a whole run again changes nothing', async () => {
    const m004 = loadMigrations().find((m) => m.version === 4)!;
    expect(m004.name).toBe('rollups_date_range');
    // A run cut short after the first rollup's delete and insert, before it was recorded.
    for (const s of m004.statements.slice(0, 5)) await ch.client.command({ query: s });
    const all = loadMigrations().map((m) => m.version);
    expect(await migrate(ch.client, silentLogger())).toEqual({ applied: [4], skipped: all.filter((v) => v !== 4) });
    expect(await rollups(ch)).toEqual(expected(RIGHT));

    // Every statement again, through ClickHouse's HTTP interface (CLICKHOUSE_URL), as on a server.
    http = await serveClickHouseHttp(ch.client);
    const viaUrl = loadConfig({ CLICKHOUSE_URL: http.url, TRACKHOUSE_DATA_DIR: dir.path });
    remote = await openClickHouse(viaUrl.clickhouse, viaUrl.dataDir);
    for (const s of m004.statements) await remote.client.command({ query: s });
    expect(await rollups(remote)).toEqual(expected(RIGHT));
    expect(await migrate(remote.client, silentLogger())).toEqual({ applied: [], skipped: all });
  });

  it('leaves events outside the range out of the rollups from then on; `events` keeps them', async () => {
    await insertRows(ch, [
      dated('late-1', '2299-12-31T23:59:59.999Z'),
      dated('early-1', '1969-12-31T00:00:00.000Z'),
      dated('in-1', '2079-06-07T13:00:00.000Z'),
    ]);
    const right = RIGHT.map((r) => (r[0] === '2079-06-07' ? ['2079-06-07', 2, 2] : r));
    expect(await rollups(ch)).toEqual(expected(right));
    const rs = await ch.client.query({ query: 'SELECT toString(count()) AS n FROM events', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ n: String(ROWS.length + 3) }]);
  });

  it('rebuilds an erased user\'s days from the in-range events only', async () => {
    const store = new ErasureStore(ch.client);
    // u-c's day 1970-01-01 also holds (in `events`) b's 1969-12-31T23:59:59.999 and f's 2149-06-07,
    // whose toDate() is 1970-01-01: rebuilt, the day has no event left.
    const erased = await store.deleteUsers(['u-c']);
    expect(erased).toEqual({ events: 1, days: ['1970-01-01'] });
    await store.rebuildRollups(erased.days);
    const right = RIGHT.filter((r) => r[0] !== '1970-01-01').map((r) => (r[0] === '2079-06-07' ? ['2079-06-07', 2, 2] : r));
    expect(await rollups(ch)).toEqual(expected(right));
  });

  it('has no day to rebuild for an erased user whose events are in no rollup', async () => {
    // u-a's only event (1900) was counted on 2079-06-07 before 004; now on none.
    expect(await new ErasureStore(ch.client).deleteUsers(['u-a'])).toEqual({ events: 1, days: [] });
  });
});

// Wrapped days spread over more than 100 months (a client clock off by decades, month after month):
// 004's rebuild inserts them in one block, which a ClickHouse server refuses past
// max_partitions_per_insert_block (100 by default) after the days were already deleted.
describe('migration 004 over wrapped days of more than 100 months', () => {
  const dir = tempDir();
  const upTo003 = tempDir('trackhouse-migrations-003-');
  let ch: ClickHouseHandle;
  const MONTHS = 110;
  const WRAP_DAYS = 65_536; // toDate() wraps modulo 2^16 days: 1900-01-01 is counted on 2079-06-07
  const junk = Array.from({ length: MONTHS }, (_, k) => dated(`wrap-${k}`, new Date(t('1900-01-01T12:00:00.000Z') + k * 31 * 86_400_000).toISOString()));
  const real = junk.map((r, k) => dated(`real-${k}`, new Date(r.timestamp! + WRAP_DAYS * 86_400_000).toISOString()));

  beforeAll(async () => {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => /^00[123]_.*\.sql$/.test(f))) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003.path, f));
    const cfg = testConfig(dir.path);
    ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
    await migrate(ch.client, silentLogger(), upTo003.path);
    for (let i = 0; i < MONTHS; i += 40) await insertRows(ch, [...junk.slice(i, i + 40), ...real.slice(i, i + 40)]);
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
    upTo003.remove();
  });

  it('rebuilds every wrapped day under the server default of 100 partitions per insert', async () => {
    const days = async () => {
      const rs = await ch.client.query({ query: 'SELECT toString(sum(events)) AS n, toString(uniqExact(toYYYYMM(day))) AS months FROM events_daily_by_event', format: 'JSONEachRow' });
      return (await rs.json<{ n: string; months: string }>())[0];
    };
    expect(await days()).toEqual({ n: String(2 * MONTHS), months: String(MONTHS) });
    // As a server's default (chDB keeps a call's settings on its session).
    await ch.client.command({ query: 'SELECT 1', clickhouse_settings: { max_partitions_per_insert_block: '100' } });
    expect((await migrate(ch.client, silentLogger())).applied).toEqual([4]);
    expect(await days()).toEqual({ n: String(MONTHS), months: String(MONTHS) });
  });
});
