import type { Command } from 'commander';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { createKafka, explainKafkaError } from '../../kafka/index.js';
import { kafkaBrokers } from '../brokers.js';
import { alertsComponent, streamRules } from '../components.js';
import { Lifecycle } from '../lifecycle.js';

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
      const rules = streamRules(config, true);
      // Unlike the query API, which refuses to start without a read key, this runs without one: its
      // webhooks need none. But its API then refuses everyone, which /readyz does not show.
      if (config.keys.read.size === 0) {
        log.warn('TRACKHOUSE_READ_KEYS is empty: GET /v1/volume and /v1/alerts answer 401 to every request (the webhooks are sent all the same)');
      }
      if (config.stream.testKillBeforeWebhook > 0) {
        log.warn({ before: config.stream.testKillBeforeWebhook }, 'STREAM_TEST_KILL_BEFORE_WEBHOOK is set: this process will kill itself before a webhook call (test hook)');
      }
      const brokers = kafkaBrokers(config);
      const kafka = createKafka(config.kafka, log, brokers);
      const life = new Lifecycle(log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.drainDelayMs });
      let code: number;
      try {
        const alerts = await alertsComponent({ config, kafka, log, registry: createRegistry('alerts'), rules }).catch((err: unknown) => {
          throw explainKafkaError(err, config.kafka, brokers);
        });
        const exited = life.untilSignal();
        life.add(alerts);
        life.ready();
        log.info({ port: alerts.port, rules: rules.length }, 'alerts ready');
        code = await exited;
      } catch (err) {
        await life.stopAll();
        throw err;
      }
      // kafkajs may leave a reconnect timer behind; the stop is complete, so exit.
      process.exit(code);
    });
}
