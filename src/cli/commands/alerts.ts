import type { Command } from 'commander';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { createKafka, explainKafkaError } from '../../kafka/index.js';
import { loadStreamRules, startStreamServer } from '../../stream/index.js';
import { runUntilSignal } from '../lifecycle.js';
import { kafkaBrokers } from './shared.js';

export function registerAlerts(program: Command): void {
  program
    .command('alerts')
    .description(
      'run the stream component alone: live volume (/v1/volume) and the alert rules of TRACKHOUSE_ALERTS (/v1/alerts, webhooks) ' +
        'from every partition of the events and rejected topics; /healthz, /readyz (503 until caught up) and /metrics on STREAM_PORT. ' +
        'Set QUERY_STREAM=off on the query processes when this runs apart',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'alerts' });
      const rules = loadStreamRules(config);
      if (config.stream.testKillBeforeWebhook > 0) {
        log.warn({ before: config.stream.testKillBeforeWebhook }, 'STREAM_TEST_KILL_BEFORE_WEBHOOK is set: this process will kill itself before a webhook call (test hook)');
      }
      const brokers = kafkaBrokers(config);
      const kafka = createKafka(config.kafka, log, brokers);
      const server = await startStreamServer({ config, kafka, log, registry: createRegistry('alerts'), rules }).catch((err: unknown) => {
        throw explainKafkaError(err, config.kafka, brokers);
      });
      log.info({ port: server.port, rules: rules.length }, 'alerts ready');
      const code = await runUntilSignal(server, log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs });
      process.exit(code);
    });
}
