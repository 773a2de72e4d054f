import type { Command } from 'commander';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';
import { clearBrokerState, ensureJars, startLocalBroker, writeBrokerState } from '../../localkafka/index.js';
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
      writeBrokerState(config.dataDir, { pid: broker.pid, port: broker.port, version: config.kafka.local.version, startedAt: new Date().toISOString(), owner: 'kafka run' });
      log.info({ brokers: broker.brokers, brokerPid: broker.pid, log: broker.logFile }, 'local Kafka running; trackhouse start will reuse it');
      process.exitCode = await runUntilSignal(
        {
          stop: async () => {
            await broker.stop();
            clearBrokerState(config.dataDir, broker.pid);
          },
        },
        log,
        { timeoutMs: config.shutdownTimeoutMs },
      );
    });
}
