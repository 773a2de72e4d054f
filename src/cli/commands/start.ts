import type { Command } from 'commander';
import { startAllInOne } from '../allinone.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'all-in-one for a single machine: local Kafka (unless KAFKA_BROKERS), migrations, ingest, sink and query, and a read-only SQL port for BI tools on BI_PORT (with chDB); Ctrl-C drains and stops everything',
    )
    .action(async () => {
      process.exitCode = await startAllInOne();
    });
}
