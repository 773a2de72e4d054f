import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../warehouse/index.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { lockChdbDataDir } from '../datadirlock.js';
import { createKafka, explainKafkaError } from '../../kafka/index.js';
import type { SinkHooks } from '../../sink/index.js';
import { auditMigrations } from '../audit.js';
import { kafkaBrokers } from '../brokers.js';
import { clickhousePart, sinkComponent } from '../components.js';
import { Lifecycle } from '../lifecycle.js';
import { migrateExclusively } from '../migrations.js';

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
      const brokers = kafkaBrokers(config);
      const kafka = createKafka(config.kafka, log, brokers);
      const life = new Lifecycle(log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs });
      lockChdbDataDir(config, 'trackhouse sink', log);
      const ch = await openClickHouse(config.clickhouse, config.dataDir, log);
      life.add(clickhousePart(ch, log));
      let code: number;
      try {
        await checkClickHouse(ch, config.clickhouse);
        await auditMigrations(kafka, config, await migrateExclusively({ config, ch, kafka, log }), 'sink', ch.location, log);
        const hooks: SinkHooks = {};
        if (config.sink.testKillAfterInserts > 0) {
          const n = config.sink.testKillAfterInserts;
          log.warn({ afterInserts: n }, 'SINK_TEST_KILL_AFTER_INSERTS is set: this process will kill itself (test hook)');
          hooks.afterInsert = ({ inserts }) => {
            if (inserts >= n) process.kill(process.pid, 'SIGKILL');
          };
        }
        const sink = await sinkComponent({ config, kafka, clickhouse: ch.client, log, registry: createRegistry('sink'), hooks }).catch((err: unknown) => {
          throw explainKafkaError(err, config.kafka, brokers);
        });
        const exited = life.untilSignal();
        life.add(sink);
        life.ready();
        log.info({ port: sink.port, clickhouse: ch.location }, 'sink ops endpoints listening');
        code = await exited;
      } catch (err) {
        await life.stopAll();
        throw err;
      }
      process.exit(code);
    });
}
