import type { Command } from 'commander';
import { startAllInOne } from '../allinone.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'all-in-one for a single machine: local Kafka (unless KAFKA_BROKERS), migrations, ingest, sink and query, and read-only SQL ports for BI tools on BI_PORT (ClickHouse HTTP) and BI_NATIVE_PORT (ClickHouse native protocol) with chDB; Ctrl-C drains and stops everything',
    )
    .action(async () => {
      process.exitCode = await startAllInOne();
    });
}
