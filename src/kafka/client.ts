// Builds the kafkajs client from config, with kafkajs's logs routed into our pino logger.
// kafkajs stays behind this folder: ingest and sink see the project's own producer/consumer
// interfaces, so a faster client can be measured against it later.
import type { KafkaConfig as KafkajsConfig, logCreator, SASLOptions } from 'kafkajs';
import type { Kafka } from 'kafkajs';
import { fastPathStatus, kafkajs } from './kafkajs.js';
import type { Logger } from '../common/log.js';
import type { KafkaConfig } from '../config/index.js';
import { registerCompression } from './compression.js';

const TRANSIENT =
  /coordinator is loading|coordinator is not available|not the correct coordinator|not the leader|no leader|leadership election|rebalance in progress/i;

function pinoLogCreator(log: Logger): logCreator {
  const { logLevel } = kafkajs();
  const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
    [logLevel.ERROR]: 'error',
    [logLevel.WARN]: 'warn',
    [logLevel.INFO]: 'info',
    [logLevel.DEBUG]: 'debug',
  };
  return () =>
    ({ level, label, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as { message: string; [k: string]: unknown };
      // kafkajs logs the protocol errors it retries by itself (a coordinator still loading after
      // a broker start, a leader moving) at ERROR; they are routine, so they go to debug.
      const transient = level === logLevel.ERROR && typeof rest.error === 'string' && TRANSIENT.test(rest.error);
      log[transient ? 'debug' : (levels[level] ?? 'info')]({ kafkajs: label, ...rest }, message);
    };
}

/** `brokers` overrides config (the local broker's address is only known once it runs). */
export function createKafka(cfg: KafkaConfig, log: Logger, brokers: string[] = cfg.brokers): Kafka {
  const { Kafka, logLevel } = kafkajs(cfg.fastPath);
  registerCompression();
  const fast = fastPathStatus();
  if (fast.installed !== cfg.fastPath) {
    log.warn({ reason: fast.reason }, fast.installed ? 'kafkajs fast path in use although KAFKA_FASTPATH=off (kafkajs was loaded with it first)' : 'kafkajs fast path not installed: Kafka clients run at kafkajs speed');
  }
  const options: KafkajsConfig = {
    clientId: cfg.clientId,
    brokers,
    ssl: cfg.ssl,
    // kafkajs logs every retry at ERROR; WARN and above is what an operator needs.
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(log.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 },
  };
  if (cfg.sasl) {
    options.sasl = { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password } as SASLOptions;
  }
  return new Kafka(options);
}
