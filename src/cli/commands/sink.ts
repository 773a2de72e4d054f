import type { Command } from 'commander';
import { checkClickHouse, migrate, openClickHouse } from '../../clickhouse/index.js';
import { startOpsServer } from '../../common/http.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { createKafka, explainKafkaError } from '../../kafka/index.js';
import { startSink, type SinkHooks } from '../../sink/index.js';
import { runUntilSignal } from '../lifecycle.js';
import { kafkaBrokers } from './shared.js';

export function registerSink(program: Command): void {
  program
    .command('sink')
    .description(
      'consume the events topic into ClickHouse, effectively once (runs migrations first); ' +
        '/healthz, /readyz and /metrics on SINK_PORT; SIGTERM finishes the batch in hand, commits and leaves the group',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'sink' });
      const registry = createRegistry('sink');
      const brokers = kafkaBrokers(config);
      const kafka = createKafka(config.kafka, log, brokers);
      const ch = await openClickHouse(config.clickhouse, config.dataDir);
      await checkClickHouse(ch, config.clickhouse);
      await migrate(ch.client, log);
      const hooks: SinkHooks = {};
      if (config.sink.testKillAfterInserts > 0) {
        const n = config.sink.testKillAfterInserts;
        log.warn({ afterInserts: n }, 'SINK_TEST_KILL_AFTER_INSERTS is set: this process will kill itself (test hook)');
        hooks.afterInsert = ({ inserts }) => {
          if (inserts >= n) process.kill(process.pid, 'SIGKILL');
        };
      }
      const sink = await startSink({ config, kafka, clickhouse: ch.client, log, registry, hooks }).catch((err: unknown) => {
        throw explainKafkaError(err, config.kafka, brokers);
      });
      const http = await startOpsServer({ registry, checks: sink.checks, host: config.http.host, port: config.http.sinkPort, portVariable: 'SINK_PORT', log });
      log.info({ port: http.port, clickhouse: ch.location }, 'sink ops endpoints listening');
      const code = await runUntilSignal(
        {
          // The sink keeps consuming during the drain delay; only /readyz changes.
          drain: () => http.drain(),
          async stop() {
            http.drain();
            try {
              await sink.stop();
            } finally {
              http.close();
              await ch.close();
            }
          },
        },
        log,
        { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs },
      );
      process.exit(code);
    });
}
