// The test support that serves chDB over ClickHouse's HTTP interface (test/support/clickhouse-http.ts)
// must answer @clickhouse/client as a server does, or the split-deployment tests and benchmarks
// would measure something else: the project's own ClickHouse client (CLICKHOUSE_URL) runs the
// query API's statements through it and gets the same bytes as from chDB directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClickHouse, migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { loadConfig } from '../../src/config/index.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { tempDir, testConfig } from '../support/env.js';
import { insertRows } from './query-helpers.js';

describe('chDB over the ClickHouse HTTP interface (test support)', () => {
  const dir = tempDir();
  let chdb: ClickHouseHandle;
  let http: ClickHouseHttp;
  let remote: ClickHouseHandle;

  beforeAll(async () => {
    const config = testConfig(dir.path);
    chdb = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(chdb.client, silentLogger());
    http = await serveClickHouseHttp(chdb.client);
    const viaUrl = loadConfig({ CLICKHOUSE_URL: http.url, TRACKHOUSE_DATA_DIR: dir.path });
    remote = await openClickHouse(viaUrl.clickhouse, viaUrl.dataDir);
    await checkClickHouse(remote, viaUrl.clickhouse);
  });
  afterAll(async () => {
    await remote?.close();
    await http?.close();
    await chdb?.close();
    dir.remove();
  });

  it('runs queries with parameters of every kind the project binds, and answers ping', async () => {
    expect((await remote.client.ping()).success).toBe(true);
    const rs = await remote.client.query({
      query: 'SELECT {s:String} AS s, {n:Int64} AS n, {u:UInt32} AS u, {a:Array(UInt32)} AS a, {d:Date} AS d',
      query_params: { s: "tab\there 'quote' back\\slash\nline ü", n: -1_763_700_000_123, u: 7, a: [1, 2, 3], d: '2026-11-30' },
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    expect(await rs.json()).toEqual([{ s: "tab\there 'quote' back\\slash\nline ü", n: -1_763_700_000_123, u: 7, a: [1, 2, 3], d: '2026-11-30' }]);
  });

  it('inserts, then reads the same bytes back as chDB gives directly (RowBinary through exec)', async () => {
    await insertRows(remote, [
      { event_id: 'h-1', user_id: 'http-user', timestamp: Date.UTC(2026, 10, 1), properties: '{"k":"v\\t"}' },
      { event_id: 'h-2', user_id: 'http-user', timestamp: Date.UTC(2026, 10, 2) },
    ]);
    const query = "SELECT event_id, toUnixTimestamp64Milli(timestamp) AS t, properties FROM events WHERE user_key = {u:String} ORDER BY t FORMAT RowBinary";
    const read = async (h: ClickHouseHandle) => {
      const r = await h.client.exec({ query, query_params: { u: 'http-user' } });
      const chunks: Buffer[] = [];
      for await (const c of r.stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const viaHttp = await read(remote);
    expect(viaHttp.length).toBeGreaterThan(30);
    expect(viaHttp.equals(await read(chdb))).toBe(true);
  });

  it("reports a failing statement as ClickHouse does: the client raises ClickHouseError with the engine's code", async () => {
    await expect(remote.client.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' })).rejects.toMatchObject({
      code: '60',
      type: 'UNKNOWN_TABLE',
    });
    await expect(remote.client.command({ query: 'SELEC 1' })).rejects.toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });
    expect(http.requests).toBeGreaterThan(4);
  });
});
