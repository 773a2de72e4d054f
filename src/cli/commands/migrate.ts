import type { Command } from 'commander';
import { checkClickHouse, migrate, openClickHouse } from '../../warehouse/index.js';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply clickhouse/*.sql to ClickHouse (chDB under the data dir, or CLICKHOUSE_URL), each once')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'migrate' });
      const ch = await openClickHouse(config.clickhouse, config.dataDir);
      try {
        await checkClickHouse(ch, config.clickhouse);
        const result = await migrate(ch.client, log);
        log.info({ ...result, clickhouse: ch.location }, 'migrations up to date');
      } finally {
        await ch.close();
      }
    });
}
