import type { Config } from '../config/index.js';

// Apart from components.ts so a command that needs only this (import) does not load every component.

/** KAFKA_BROKERS, or the project's local broker (`trackhouse kafka run`) when none is set. */
export function kafkaBrokers(config: Config): string[] {
  return config.kafka.brokers.length > 0 ? [...config.kafka.brokers] : [`127.0.0.1:${config.kafka.local.port}`];
}
