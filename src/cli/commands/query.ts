import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../clickhouse/index.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { createKafka } from '../../kafka/index.js';
import { startQuery } from '../../query/index.js';
import { hostStream, loadStreamRules, type HostedStream } from '../../stream/index.js';
import { runUntilSignal } from '../lifecycle.js';
import { kafkaBrokers } from './shared.js';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description(
      'serve the query API (GET /v1/users/{userId}/events, /v1/rollups/daily) on QUERY_PORT until SIGTERM; ' +
        'run alone it has no change feed from a sink, so it does not cache and every reply comes from ClickHouse. ' +
        'With QUERY_STREAM=on (the default) it also runs the stream component: /v1/volume and /v1/alerts from Kafka',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'query' });
      // The rules file is checked before anything starts: a bad rule stops the command.
      const rules = config.stream.inQuery ? loadStreamRules(config) : [];
      const ch = await openClickHouse(config.clickhouse, config.dataDir);
      let code = 1;
      try {
        await checkClickHouse(ch, config.clickhouse);
        const registry = createRegistry('query');
        let stream: HostedStream | null = null;
        if (config.stream.inQuery) {
          const streamLog = createLogger(config.logLevel, { component: 'stream' });
          stream = hostStream({ config, kafka: createKafka(config.kafka, streamLog, kafkaBrokers(config)), log: streamLog, registry, rules });
        }
        const server = await startQuery({ config, clickhouse: ch.client, log, registry, ...(stream ? { routes: stream.routes } : {}) });
        log.info({ port: server.port, clickhouse: ch.location, engine: ch.engine, stream: stream !== null }, 'query API ready');
        // The stream starts once the API listens; without Kafka the API still serves (the stream's routes answer 503).
        stream?.start();
        code = await runUntilSignal(
          {
            drain: () => server.drain(),
            async stop() {
              await server.stop();
              await stream?.stop();
            },
          },
          log,
          { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs },
        );
      } finally {
        await ch.close();
      }
      process.exitCode = code;
    });
}
