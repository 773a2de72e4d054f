import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../warehouse/index.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { explainKafkaError } from '../../kafka/index.js';
import { clickhousePart, kafkaBrokers, queryComponent } from '../components.js';
import { Lifecycle } from '../lifecycle.js';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description(
      'serve the query API (GET /v1/users/{userId}/events, /v1/rollups/daily) on QUERY_PORT until SIGTERM; ' +
        'keeps its own per-user view of the events topic (under TRACKHOUSE_DATA_DIR/view, built from Kafka) and asks ClickHouse ' +
        'only beyond it; /readyz is 503 until the view has caught up',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'query' });
      const life = new Lifecycle(log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs });
      const ch = await openClickHouse(config.clickhouse, config.dataDir);
      life.add(clickhousePart(ch));
      try {
        await checkClickHouse(ch, config.clickhouse);
        const brokers = kafkaBrokers(config);
        const query = await queryComponent({ config, brokers, clickhouse: ch.client, log, registry: createRegistry('query') }).catch((err: unknown) => {
          throw explainKafkaError(err, config.kafka, brokers);
        });
        const exited = life.untilSignal();
        life.add(query);
        life.ready();
        log.info({ port: query.port, clickhouse: ch.location, engine: ch.engine }, 'query API started; the view builds in the background (/readyz 503 until it has caught up)');
        process.exitCode = await exited;
      } catch (err) {
        await life.stopAll();
        throw err;
      }
    });
}
