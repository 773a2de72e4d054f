import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../clickhouse/index.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { startQuery } from '../../query/index.js';
import { runUntilSignal } from '../lifecycle.js';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description(
      'serve the query API (GET /v1/users/{userId}/events, /v1/rollups/daily) on QUERY_PORT until SIGTERM; ' +
        'run alone it has no change feed from a sink, so it does not cache and every reply comes from ClickHouse',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'query' });
      const ch = await openClickHouse(config.clickhouse, config.dataDir);
      let code = 1;
      try {
        await checkClickHouse(ch, config.clickhouse);
        const server = await startQuery({ config, clickhouse: ch.client, log, registry: createRegistry('query') });
        log.info({ port: server.port, clickhouse: ch.location, engine: ch.engine }, 'query API ready');
        code = await runUntilSignal(server, log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs });
      } finally {
        await ch.close();
      }
      process.exitCode = code;
    });
}
