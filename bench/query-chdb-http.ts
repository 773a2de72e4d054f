// Child process of the query benchmark's split runs: the chDB data dir served over ClickHouse's
// HTTP interface (test/support/clickhouse-http.ts), so `trackhouse query` runs alone with
// CLICKHOUSE_URL as it would against a server. Prints {"url":...}; SIGTERM stops it.
//
//   node --import tsx bench/query-chdb-http.ts <dataDir>
import { openClickHouse } from '../src/warehouse/index.js';
import { loadConfig } from '../src/config/index.js';
import { serveClickHouseHttp } from '../test/support/clickhouse-http.js';

const config = loadConfig({ TRACKHOUSE_DATA_DIR: process.argv[2], LOG_LEVEL: 'silent' });
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const http = await serveClickHouseHttp(ch.client);
process.stdout.write(`${JSON.stringify({ url: http.url })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await http.close();
    await ch.close();
    process.exit(0);
  })();
});
