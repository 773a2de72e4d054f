import type { Command } from 'commander';
import { registerAlerts } from './alerts.js';
import { registerImport } from './import.js';
import { registerIngest } from './ingest.js';
import { registerKafka } from './kafka.js';
import { registerMigrate } from './migrate.js';
import { registerQuery } from './query.js';
import { registerReplay } from './replay.js';
import { registerSink } from './sink.js';
import { registerStart } from './start.js';

export function registerCommands(program: Command): void {
  registerStart(program);
  registerIngest(program);
  registerSink(program);
  registerQuery(program);
  registerAlerts(program);
  registerMigrate(program);
  registerReplay(program);
  registerImport(program);
  registerKafka(program);
}
