// ClickHouse as a server in another time zone than trackhouse (the split deployment,
// CLICKHOUSE_URL). ClickHouse reads a time written without a zone, and computes toDate() or
// today() of a value without one, in the server's zone; trackhouse's tables hold DateTime64(3,
// 'UTC') and its statements pass times as Unix numbers or as text into those UTC columns, so
// nothing may move by the server's offset (docs/contract.md, "Times and time zones"). Here chDB
// serves ClickHouse's HTTP interface from its own process (chaos/lib/chdb-http.ts) with its own
// TZ, the sink writes into it through its real insert path (in this process), and `trackhouse
// query` runs as a child in a third zone: events 1 ms either side of a UTC midnight, and one whose
// local day differs from its UTC day in both zones, land on their UTC days in the rollups and cut
// at the UTC instants asked for; an audit record (copied into audit_log as text) keeps its time.
// Both ways round: the server at +05:30 and the client in UTC, and the server in UTC and the
// client at -07:00/-08:00.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import type { Config } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { freePort } from '../../src/localkafka/index.js';
import { createRegistry } from '../../src/common/metrics.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { kafkaBrokers, tempDir, testConfig } from '../support/env.js';
import { count, produce, testEvent, waitFor } from './sink-helpers.js';
import { spawnQuery, type QueryProcess } from './view-process.js';

const READ_KEY = 'tz-read-key';
const ADMIN_KEY = 'tz-admin-key';
const MIDNIGHT = Date.UTC(2026, 7, 1);
/** The events' times: 1 ms before and at 2026-08-01's UTC midnight, and 20:00 UTC, 2026-08-02 in Kolkata. */
const TIMES = [MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + 20 * 3_600_000];
const AUDIT_TIME = MIDNIGHT + 123;

const iso = (ms: number) => new Date(ms).toISOString();

/** chDB over ClickHouse's HTTP interface in a process of its own, in `zone`. */
async function chdbServer(dataDir: string, zone: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.resolve('chaos/lib/chdb-http.ts'), dataDir, String(port)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TZ: zone },
  });
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const listening = new Promise<void>((resolve) => proc.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes('listening') && resolve()));
  const exited = once(proc, 'exit').then(() => Promise.reject(new Error(`chdb-http exited:\n${out}`)));
  await Promise.race([listening, exited]);
  void exited.catch(() => {});
  return { url: `http://127.0.0.1:${port}`, proc };
}

describe.each([
  { server: 'Asia/Kolkata', client: 'UTC' },
  { server: 'UTC', client: 'America/Los_Angeles' },
])('ClickHouse in $server, trackhouse query in $client', ({ server, client }) => {
  let dirs: ReturnType<typeof tempDir>[] = [];
  let chdb: ChildProcess;
  let config: Config;
  let ch: ClickHouseHandle;
  let kafka: Kafka;
  let sink: RunningSink;
  let query: QueryProcess;
  let base = '';

  const get = async <T>(p: string, key = READ_KEY): Promise<T> => {
    const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status, `${p}: ${await res.clone().text()}`).toBe(200);
    return (await res.json()) as T;
  };
  const eventTimes = async (q: string) => (await get<{ events: { timestamp: string }[] }>(`/v1/users/tz-user/events?${q}`)).events.map((e) => e.timestamp);

  beforeAll(async () => {
    // Made here, not when the suite is collected: a suite left out by -t runs no afterAll.
    dirs = [tempDir(), tempDir(), tempDir()];
    const [chDir, dir, viewDir] = dirs as [ReturnType<typeof tempDir>, ReturnType<typeof tempDir>, ReturnType<typeof tempDir>];
    const served = await chdbServer(chDir.path, server);
    chdb = served.proc;
    config = testConfig(dir.path, { CLICKHOUSE_URL: served.url, SINK_BATCH_MS: '100' });
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    await produce(kafka, config.kafka.topics.events, TIMES.map((t, i) => testEvent(i, { timestamp: t, event: 'Zoned', user_id: 'tz-user', category: null, group_id: null, type: 'track', name: null })));
    const audit = { time: AUDIT_TIME, actor: 'dpo', action: 'regulation.requested', id: 'reg_tz', scope: {}, counts: {}, outcome: 'accepted' };
    await produce(kafka, config.kafka.topics.audit, [{ key: 'reg_tz', value: Buffer.from(JSON.stringify(audit)) }]);
    await waitFor('the sink to insert the events', async () => (await count(ch.client, "SELECT count() FROM events WHERE user_id = 'tz-user'")) === TIMES.length);
    query = spawnQuery({
      TZ: client,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
      KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
      KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
      KAFKA_TOPIC_REGULATIONS: config.kafka.topics.regulations,
      KAFKA_TOPIC_AUDIT: config.kafka.topics.audit,
      CLICKHOUSE_URL: served.url,
      TRACKHOUSE_DATA_DIR: viewDir.path,
      TRACKHOUSE_READ_KEYS: READ_KEY,
      TRACKHOUSE_ADMIN_KEYS: `${ADMIN_KEY}:dpo`,
      QUERY_PORT: '0',
      QUERY_STREAM: 'off',
      // 2026-08-01 is older than the view's window: ClickHouse answers.
      QUERY_VIEW_DAYS: '1',
    });
    base = `http://127.0.0.1:${await query.port}`;
    await query.ready();
  }, 300_000);

  afterAll(async () => {
    await query?.stop();
    await sink?.stop();
    await ch?.close();
    if (chdb && chdb.exitCode === null) {
      chdb.kill('SIGTERM');
      await once(chdb, 'exit');
    }
    for (const d of dirs) d.remove();
  });

  it(`serves from a ClickHouse whose own zone is ${server}`, async () => {
    const [row] = await (await ch.client.query({ query: 'SELECT timezone() AS tz', format: 'JSONEachRow' })).json<{ tz: string }>();
    expect(row?.tz).toBe(server);
  });

  it('counts each event on its UTC day in the daily rollups', async () => {
    const { rows } = await get<{ rows: { day: string; key: string; events: number; users: number }[] }>('/v1/rollups/daily?by=event&from=2026-07-30&to=2026-08-04');
    expect(rows.map((r) => [r.day, r.key, r.events, r.users])).toEqual([
      ['2026-07-31', 'Zoned', 1, 1],
      ['2026-08-01', 'Zoned', 2, 1],
    ]);
  });

  it("cuts a user's events at the UTC instants of from and to, and answers their exact times", async () => {
    expect(await eventTimes('limit=10')).toEqual([...TIMES].reverse().map(iso));
    expect(await eventTimes('from=2026-08-01')).toEqual([iso(TIMES[2]!), iso(MIDNIGHT)]);
    expect(await eventTimes('to=2026-08-01T00:00:00Z')).toEqual([iso(MIDNIGHT - 1)]);
    expect(await eventTimes('from=2026-08-01T05:30:00%2B05:30&to=2026-08-01T00:00:00.001Z')).toEqual([iso(MIDNIGHT)]);
    expect(await eventTimes('from=2026-07-31T17:00:00-07:00&to=2026-08-01T13:00:00-07:00')).toEqual([iso(MIDNIGHT)]);
  });

  it('keeps an audit record at its time, and finds it by from/to', async () => {
    const records = () => get<{ records: { time: string; id: string }[] }>(`/v1/audit?from=${iso(AUDIT_TIME)}&to=${iso(AUDIT_TIME + 1)}`, ADMIN_KEY);
    await waitFor('the audit copier to copy the record', async () => (await records()).records.length > 0);
    expect((await records()).records.map((r) => [r.id, r.time])).toEqual([['reg_tz', iso(AUDIT_TIME)]]);
    expect((await get<{ records: unknown[] }>(`/v1/audit?from=${iso(AUDIT_TIME + 1)}&to=${iso(AUDIT_TIME + 3_600_000)}`, ADMIN_KEY)).records).toEqual([]);
  });
});
