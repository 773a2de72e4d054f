import type { Command } from 'commander';
import { ConfigError } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { loadConfig } from '../../config/index.js';
import { createKafka, ensureTopics, explainKafkaError } from '../../kafka/index.js';
import { kafkaBrokers } from '../brokers.js';
import { ingestComponent } from '../components.js';
import { Lifecycle } from '../lifecycle.js';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'run the Segment-compatible HTTP ingest edge on INGEST_PORT, producing to Kafka (KAFKA_BROKERS, or the local broker on LOCAL_KAFKA_PORT)',
    )
    .action(async () => {
      const config = loadConfig();
      if (config.keys.write.size === 0) {
        throw new ConfigError('TRACKHOUSE_WRITE_KEYS is empty: every request would be refused; set comma-separated key:source pairs');
      }
      const log = createLogger(config.logLevel, { component: 'ingest' });
      const brokers = kafkaBrokers(config);
      const explain = (err: unknown) => {
        throw explainKafkaError(err, config.kafka, brokers);
      };
      // First, so SIGHUP reloads (TLS on) rather than ends the process while Kafka is asked.
      const life = new Lifecycle(log, {
        timeoutMs: config.shutdownTimeoutMs,
        drainDelayMs: config.drainDelayMs,
        reloadOnHangup: config.tls.files !== null,
      });
      const created = await ensureTopics(createKafka(config.kafka, log, brokers), config.kafka).catch(explain);
      if (created.length > 0) log.info({ topics: created }, 'created Kafka topics');
      const ingest = await ingestComponent({ config, log, registry: createRegistry('ingest'), brokers }).catch(explain);
      const exited = life.untilSignal();
      life.add(ingest);
      life.ready();
      const scheme = config.tls.files !== null && ingest.tlsPort === null ? 'https' : 'http';
      log.info(
        { url: `${scheme}://${config.http.host}:${ingest.port}`, tlsPort: ingest.tlsPort, threads: config.ingest.threads, brokers },
        'ingest listening',
      );
      process.exitCode = await exited;
    });
}
