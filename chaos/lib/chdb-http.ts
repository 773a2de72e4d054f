// A chDB data dir served over ClickHouse's HTTP interface (test/support/clickhouse-http.ts), so
// that several trackhouse processes (ingest, sink, query, migrate) can share one ClickHouse on a
// machine without a ClickHouse server, as they would share one in production. For the fault suite
// and the rollout only: it is no ClickHouse server.
//
//   node --import tsx chaos/lib/chdb-http.ts <data dir> <port>   (prints "listening <port>")
import { loadConfig } from '../../src/config/index.js';
import { openClickHouse } from '../../src/warehouse/index.js';
import { serveClickHouseHttp } from '../../test/support/clickhouse-http.js';

const [dir, port] = process.argv.slice(2);
if (!dir || port === undefined) {
  process.stderr.write('usage: chdb-http.ts <data dir> <port>\n');
  process.exit(2);
}
const config = loadConfig({ TRACKHOUSE_DATA_DIR: dir, LOG_LEVEL: 'silent' });
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const srv = await serveClickHouseHttp(ch.client, { host: '127.0.0.1', port: Number(port) });
process.stdout.write(`listening ${srv.port}\n`);
const stop = () =>
  void srv
    .close()
    .then(() => ch.close())
    .then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
