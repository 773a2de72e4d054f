import { z } from 'zod';
import { bool, int, list, oneOf, optionalStr, port, str } from './parse.js';

/** Pinned broker version for the local Kafka; see docs/architecture.md for why 3.9. */
export const LOCAL_KAFKA_VERSION = '3.9.2';

export const kafkaSchema = z
  .object({
    KAFKA_BROKERS: list(),
    KAFKA_CLIENT_ID: str('trackhouse'),
    KAFKA_TOPIC_EVENTS: str('trackhouse.events'),
    KAFKA_TOPIC_REJECTED: str('trackhouse.rejected'),
    KAFKA_TOPIC_DLQ: str('trackhouse.dlq'),
    KAFKA_PARTITIONS: int(6, 1, 10_000),
    /** -1 lets the cluster's default.replication.factor decide. */
    KAFKA_REPLICATION_FACTOR: int(-1, -1, 32),
    KAFKA_COMPRESSION: oneOf(['lz4', 'gzip', 'none'], 'lz4'),
    KAFKA_SSL: bool(false),
    KAFKA_SASL_MECHANISM: oneOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'], 'none'),
    KAFKA_SASL_USERNAME: optionalStr(),
    KAFKA_SASL_PASSWORD: optionalStr(),
    LOCAL_KAFKA_PORT: port(9092),
    LOCAL_KAFKA_CONTROLLER_PORT: port(9093),
  })
  .superRefine((e, ctx) => {
    if (e.KAFKA_SASL_MECHANISM !== 'none' && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
      ctx.addIssue({
        code: 'custom',
        path: ['KAFKA_SASL_USERNAME'],
        message: `KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      });
    }
    for (const b of e.KAFKA_BROKERS) {
      if (!/^[^\s:]+:\d{1,5}$/.test(b)) {
        ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: `expected host:port entries, got "${b}"` });
      }
    }
  })
  .transform((e) => ({
    /** Empty: use (or start) the project's local broker on 127.0.0.1:LOCAL_KAFKA_PORT. */
    brokers: e.KAFKA_BROKERS,
    clientId: e.KAFKA_CLIENT_ID,
    topics: { events: e.KAFKA_TOPIC_EVENTS, rejected: e.KAFKA_TOPIC_REJECTED, dlq: e.KAFKA_TOPIC_DLQ },
    partitions: e.KAFKA_PARTITIONS,
    replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    compression: e.KAFKA_COMPRESSION,
    ssl: e.KAFKA_SSL,
    sasl:
      e.KAFKA_SASL_MECHANISM === 'none'
        ? null
        : { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! },
    local: { version: LOCAL_KAFKA_VERSION, port: e.LOCAL_KAFKA_PORT, controllerPort: e.LOCAL_KAFKA_CONTROLLER_PORT },
  }));

export type KafkaConfig = z.output<typeof kafkaSchema>;
