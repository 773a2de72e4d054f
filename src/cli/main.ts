#!/usr/bin/env node
// trackhouse command line. Each command lives in its own module under ./commands/.
import { Command } from 'commander';
import { TrackhouseError } from '../common/errors.js';
import { registerCommands } from './commands/index.js';
import { checkNode } from './preflight.js';

const program = new Command('trackhouse')
  .description('Self-hosted event tracking: Segment-compatible ingest -> Kafka -> ClickHouse, with a query API')
  .showHelpAfterError();

registerCommands(program);

try {
  checkNode();
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof TrackhouseError) {
    process.stderr.write(`trackhouse: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
