import type { Command } from 'commander';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';
import { ensureJars, startLocalBroker } from '../../localkafka/index.js';
import { runUntilSignal } from '../lifecycle.js';

export function registerKafka(program: Command): void {
  const kafka = program.command('kafka').description('the local single-node Kafka broker used in development and tests');
  kafka
    .command('fetch')
    .description('resolve the pinned Kafka broker jars from Maven Central into the data dir')
    .action(async () => {
      const config = loadConfig();
      const dir = await ensureJars(config.dataDir, config.kafka.local.version);
      process.stdout.write(`Kafka ${config.kafka.local.version} jars in ${dir}\n`);
    });
  kafka
    .command('run')
    .description('run the local broker in the foreground (LOCAL_KAFKA_PORT, data under the data dir) until Ctrl-C')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'kafka' });
      const broker = await startLocalBroker({
        dataDir: config.dataDir,
        version: config.kafka.local.version,
        port: config.kafka.local.port,
        controllerPort: config.kafka.local.controllerPort,
      });
      log.info({ brokers: broker.brokers, pid: broker.pid, log: broker.logFile }, 'local Kafka running');
      process.exitCode = await runUntilSignal({ stop: () => broker.stop() }, log, config.shutdownTimeoutMs);
    });
}
