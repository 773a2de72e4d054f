import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../warehouse/index.js';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';
import { createKafka } from '../../kafka/index.js';
import { auditMigrations } from '../audit.js';
import { kafkaBrokers } from '../brokers.js';
import { lockChdbDataDir } from '../datadirlock.js';
import { migrateExclusively } from '../migrations.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply clickhouse/*.sql to ClickHouse (chDB under the data dir, or CLICKHOUSE_URL), each once')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'migrate' });
      lockChdbDataDir(config, 'trackhouse migrate', log);
      const ch = await openClickHouse(config.clickhouse, config.dataDir, log);
      try {
        await checkClickHouse(ch, config.clickhouse);
        // Against a ClickHouse server under the migrations lock (Kafka: KAFKA_BROKERS, else the
        // local broker); in-process chDB needs none.
        const kafka = createKafka(config.kafka, log, kafkaBrokers(config));
        const result = await migrateExclusively({ config, ch, kafka, log });
        log.info({ ...result, clickhouse: ch.location }, 'migrations up to date');
        // Into the audit trail when a Kafka cluster is configured (the local development broker
        // may not run while migrations are applied by hand).
        if (config.kafka.brokers.length > 0) await auditMigrations(kafka, config, result, 'migrate', ch.location, log);
      } finally {
        await ch.close();
      }
    });
}
