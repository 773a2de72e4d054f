// Child process of the query benchmark's baseline: the query API answering every page from
// ClickHouse (no view), as it did before the view, on the seeded chDB. Prints {"port":N}.
//
//   node --import tsx bench/query-engine.ts   (env: TRACKHOUSE_DATA_DIR, TRACKHOUSE_READ_KEYS, QUERY_PORT)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as ClickHouseModule from '../src/warehouse/index.js';
import type * as LogModule from '../src/common/log.js';
import type * as MetricsModule from '../src/common/metrics.js';
import type * as ConfigModule from '../src/config/index.js';
import type * as QueryModule from '../src/query/index.js';

const dist = path.resolve(fileURLToPath(new URL('../dist/', import.meta.url)));
const load = <T>(p: string) => import(path.join(dist, p)) as Promise<T>;
const { openClickHouse } = await load<typeof ClickHouseModule>('warehouse/index.js');
const { createLogger } = await load<typeof LogModule>('common/log.js');
const { createRegistry } = await load<typeof MetricsModule>('common/metrics.js');
const { loadConfig } = await load<typeof ConfigModule>('config/index.js');
const { startQuery } = await load<typeof QueryModule>('query/index.js');

const config = loadConfig();
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const server = await startQuery({ config, clickhouse: ch.client, log: createLogger(config.logLevel, { component: 'query' }), registry: createRegistry('query') });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await server.stop();
    await ch.close();
    process.exit(0);
  })();
});
