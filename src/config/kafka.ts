import { z } from 'zod';
import { bool, int, list, oneOf, optionalStr, port, retentionMs, str } from './parse.js';

/** Pinned broker version for the local Kafka; see docs/architecture.md for why 3.9. */
export const LOCAL_KAFKA_VERSION = '3.9.2';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Retention defaults for the topics trackhouse creates (an existing topic is never altered).
 * events: the source of truth replay reads, so kept forever on a cluster (KAFKA_BROKERS set);
 * with the local development broker (`npm start`) 7 days, so a developer's disk under
 * .trackhouse/ does not fill up with test traffic. dlq: records the sink could not decode,
 * the only copy once the events topic has expired them: kept forever (few, and worth keeping
 * until someone looks). rejected: also the only copy of bad input, but anyone who can reach the
 * edge can write to it, keyed or not, so it is bounded: 30 days to notice and fix a client.
 */
export const RETENTION_DEFAULTS = {
  eventsCluster: -1,
  eventsLocal: 7 * DAY_MS,
  rejected: 30 * DAY_MS,
  dlq: -1,
} as const;

export const kafkaSchema = z
  .object({
    KAFKA_BROKERS: list(),
    KAFKA_CLIENT_ID: str('trackhouse'),
    KAFKA_TOPIC_EVENTS: str('trackhouse.events'),
    KAFKA_TOPIC_REJECTED: str('trackhouse.rejected'),
    KAFKA_TOPIC_DLQ: str('trackhouse.dlq'),
    KAFKA_TOPIC_REGULATIONS: str('trackhouse.regulations'),
    KAFKA_TOPIC_AUDIT: str('trackhouse.audit'),
    KAFKA_PARTITIONS: int(6, 1, 10_000),
    /** -1 lets the cluster's default.replication.factor decide. */
    KAFKA_REPLICATION_FACTOR: int(-1, -1, 32),
    /** Shorter than an hour would lose events during an ordinary sink or ClickHouse outage. */
    KAFKA_EVENTS_RETENTION_MS: retentionMs(HOUR_MS),
    KAFKA_REJECTED_RETENTION_MS: retentionMs(HOUR_MS),
    KAFKA_DLQ_RETENTION_MS: retentionMs(HOUR_MS),
    KAFKA_COMPRESSION: oneOf(['lz4', 'gzip', 'none'], 'lz4'),
    /** off: kafkajs as published, without the faster grouping, encoding and decoding (to measure what they buy). */
    KAFKA_FASTPATH: oneOf(['on', 'off'], 'on'),
    /**
     * How old a client's cluster metadata may get before it asks again: how soon a producer writes
     * to, and a consumer or reader reads, partitions added to a topic while trackhouse runs.
     */
    KAFKA_METADATA_MAX_AGE_MS: int(30_000, 1_000, 3_600_000),
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
        ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: `every entry must be host:port, and "${b}" is not` });
      }
    }
  })
  .transform((e) => ({
    /** Empty: use (or start) the project's local broker on 127.0.0.1:LOCAL_KAFKA_PORT. */
    brokers: e.KAFKA_BROKERS,
    clientId: e.KAFKA_CLIENT_ID,
    topics: {
      events: e.KAFKA_TOPIC_EVENTS,
      rejected: e.KAFKA_TOPIC_REJECTED,
      dlq: e.KAFKA_TOPIC_DLQ,
      /** The erasure list (compacted, keyed by user key) and the regulation requests (src/erasure/). */
      regulations: e.KAFKA_TOPIC_REGULATIONS,
      /** The audit trail (append-only, kept forever; src/audit/). */
      audit: e.KAFKA_TOPIC_AUDIT,
    },
    partitions: e.KAFKA_PARTITIONS,
    replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    /** retention.ms per topic, set when trackhouse creates the topic; -1 keeps records forever. */
    retentionMs: {
      events: e.KAFKA_EVENTS_RETENTION_MS ?? (e.KAFKA_BROKERS.length === 0 ? RETENTION_DEFAULTS.eventsLocal : RETENTION_DEFAULTS.eventsCluster),
      rejected: e.KAFKA_REJECTED_RETENTION_MS ?? RETENTION_DEFAULTS.rejected,
      dlq: e.KAFKA_DLQ_RETENTION_MS ?? RETENTION_DEFAULTS.dlq,
    },
    compression: e.KAFKA_COMPRESSION,
    fastPath: e.KAFKA_FASTPATH === 'on',
    metadataMaxAgeMs: e.KAFKA_METADATA_MAX_AGE_MS,
    ssl: e.KAFKA_SSL,
    sasl:
      e.KAFKA_SASL_MECHANISM === 'none'
        ? null
        : { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! },
    local: { version: LOCAL_KAFKA_VERSION, port: e.LOCAL_KAFKA_PORT, controllerPort: e.LOCAL_KAFKA_CONTROLLER_PORT },
  }));

export type KafkaConfig = z.output<typeof kafkaSchema>;
