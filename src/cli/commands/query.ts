import type { Command } from 'commander';
import { checkClickHouse, openClickHouse, pendingMigrations, type ClickHouseHandle } from '../../warehouse/index.js';
import { errorMessage, NOT_MIGRATED } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { lowerNamedThreads, QUERY_BACKGROUND } from '../../common/threads.js';
import { loadConfig } from '../../config/index.js';
import { lockDataDir } from '../datadirlock.js';
import { explainKafkaError } from '../../kafka/index.js';
import { kafkaBrokers } from '../brokers.js';
import { clickhousePart, hostedStream, queryComponent, streamRules } from '../components.js';
import { Lifecycle } from '../lifecycle.js';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description(
      'serve the query API (GET /v1/users/{userId}/events, /v1/rollups/daily) on QUERY_PORT until SIGTERM; ' +
        'keeps its own per-user view of the events topic (under TRACKHOUSE_DATA_DIR/view, built from Kafka) and asks ClickHouse ' +
        'only beyond it; /readyz is 503 until the view has caught up. ' +
        'It also hosts the stream component (GET /v1/volume, /v1/alerts, the rules of TRACKHOUSE_ALERTS) unless QUERY_STREAM=off',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'query' });
      // The rules file is checked before anything starts: a bad rule stops the command.
      streamRules(config, config.stream.inQuery);
      const life = new Lifecycle(log, {
        timeoutMs: config.shutdownTimeoutMs,
        drainDelayMs: config.drainDelayMs,
        reloadOnHangup: config.tls.files !== null,
      });
      // The view (and the stream's windows) live in the data dir, chDB or not: one query process
      // per data dir; a second one is refused before it opens anything.
      lockDataDir(config.dataDir, 'trackhouse query', { chosen: config.dataDirChosen, log });
      // The view's and the stream's threads, at QUERY_BACKGROUND_NICE, let the HTTP thread go
      // first when the cores are short (docs/architecture/query.md); they start later, so the
      // scan goes on (its timer is unref'd: it ends with the process). Not in the all-in-one.
      if (config.query.backgroundNice > 0) lowerNamedThreads(QUERY_BACKGROUND, config.query.backgroundNice);
      const ch = await openClickHouse(config.clickhouse, config.dataDir, log);
      life.add(clickhousePart(ch, log));
      try {
        await checkClickHouse(ch, config.clickhouse);
        await reportPendingMigrations(ch, log);
        const brokers = kafkaBrokers(config);
        const registry = createRegistry('query');
        const streamLog = createLogger(config.logLevel, { component: 'stream' });
        const stream = hostedStream({ config, brokers, log: streamLog, registry });
        const query = await queryComponent({ config, brokers, clickhouse: ch.client, log, registry, stream }).catch((err: unknown) => {
          throw explainKafkaError(err, config.kafka, brokers);
        });
        const exited = life.untilSignal();
        life.add(query);
        life.ready();
        log.info(
          { port: query.port, tlsPort: query.tlsPort, https: config.tls.files !== null && query.tlsPort === null, clickhouse: ch.location, engine: ch.engine, stream: stream !== null, backgroundNice: config.query.backgroundNice },
          'query API started; the view builds in the background (/readyz 503 until it has caught up)',
        );
        process.exitCode = await exited;
      } catch (err) {
        await life.stopAll();
        throw err;
      }
    });
}

/**
 * Started before `trackhouse migrate` (or a release's new migration), the query API still serves
 * its view's pages, and what needs ClickHouse's tables answers 503 until they exist: said once at
 * start, with what to run, rather than only in each failed request's line.
 */
async function reportPendingMigrations(ch: ClickHouseHandle, log: Logger): Promise<void> {
  try {
    const pending = await pendingMigrations(ch.client);
    if (pending.length > 0) {
      log.warn(
        { pending, clickhouse: ch.location },
        `ClickHouse lacks migrations ${pending.join(', ')}: ${NOT_MIGRATED}. Until then rollups, pages older than the view and the audit trail answer 503`,
      );
    }
  } catch (err) {
    log.warn({ err: errorMessage(err), clickhouse: ch.location }, 'could not read which migrations ClickHouse has applied');
  }
}
