// Kafka failures at start-up, turned into errors that name the setting to check. kafkajs says
// "KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED" after its retries;
// an operator needs to hear which addresses were tried, where they came from (KAFKA_BROKERS, or
// the local broker on LOCAL_KAFKA_PORT when it is unset) and what to do.
import { DependencyError, errorMessage } from '../common/errors.js';
import type { KafkaConfig } from '../config/index.js';

interface KafkajsLike {
  name?: string;
  message?: string;
  type?: string;
  cause?: unknown;
  errors?: unknown[];
}

/** The error and every error it wraps (kafkajs nests them in `cause` and, for topics, `errors`). */
function chain(err: unknown): KafkajsLike[] {
  const out: KafkajsLike[] = [];
  const visit = (e: unknown, depth: number) => {
    if (depth > 8 || e === null || typeof e !== 'object') return;
    const k = e as KafkajsLike;
    out.push(k);
    visit(k.cause, depth + 1);
    if (Array.isArray(k.errors)) for (const inner of k.errors) visit(inner, depth + 1);
  };
  visit(err, 0);
  return out;
}

const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/**
 * A DependencyError naming KAFKA_BROKERS (or LOCAL_KAFKA_PORT), KAFKA_SSL / KAFKA_SASL_*, or
 * KAFKA_PARTITIONS / KAFKA_REPLICATION_FACTOR, for the Kafka failures a setting explains; any other
 * error is returned as it was.
 */
export function explainKafkaError(err: unknown, cfg: KafkaConfig, brokers: readonly string[]): unknown {
  const errors = chain(err);
  const list = brokers.join(',');
  const local = cfg.brokers.length === 0;
  const reason = errors.at(-1)?.message ?? errorMessage(err);

  if (errors.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
    return new DependencyError(
      'KAFKA_AUTH_FAILED',
      `Kafka at ${list} refused the credentials (${reason}); check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      { cause: err, details: { variable: 'KAFKA_SASL_USERNAME', brokers } },
    );
  }
  if (errors.some((e) => e.type === 'ILLEGAL_SASL_STATE')) {
    return new DependencyError(
      'KAFKA_AUTH_FAILED',
      `Kafka at ${list} does not take SASL there (${reason}), and KAFKA_SASL_MECHANISM=${cfg.sasl?.mechanism ?? '(unset)'} is set: ` +
        'point KAFKA_BROKERS at the listener that takes SASL (SASL_PLAINTEXT or SASL_SSL), or unset KAFKA_SASL_MECHANISM if the cluster needs none',
      { cause: err, details: { variable: 'KAFKA_SASL_MECHANISM', brokers } },
    );
  }
  const badTopic = errors.find((e) => e.type === 'INVALID_REPLICATION_FACTOR' || e.type === 'INVALID_PARTITIONS');
  if (badTopic) {
    const variable = badTopic.type === 'INVALID_PARTITIONS' ? 'KAFKA_PARTITIONS' : 'KAFKA_REPLICATION_FACTOR';
    const value = variable === 'KAFKA_PARTITIONS' ? cfg.partitions : cfg.replicationFactor;
    return new DependencyError(
      'KAFKA_TOPIC_REFUSED',
      `Kafka at ${list} refused to create the topics: ${badTopic.message} (${variable}=${value}); ` +
        `set ${variable} to what the cluster allows${variable === 'KAFKA_REPLICATION_FACTOR' ? ' (at most its number of brokers; -1 for its default)' : ''}`,
      { cause: err, details: { variable, brokers } },
    );
  }
  if (!errors.some((e) => e.name !== undefined && UNREACHABLE.has(e.name))) return err;
  if (local) {
    return new DependencyError(
      'KAFKA_UNREACHABLE',
      `no Kafka broker answers at ${list} (${reason}): KAFKA_BROKERS is not set, so the local development broker on ` +
        `LOCAL_KAFKA_PORT=${cfg.local.port} is expected; start it with \`trackhouse kafka run\` (or run everything with ` +
        '`trackhouse start`), or set KAFKA_BROKERS to your cluster',
      { cause: err, retriable: true, details: { variable: 'KAFKA_BROKERS', brokers } },
    );
  }
  // A plaintext listener drops a TLS client's hello: Node says "Client network socket disconnected
  // before secure TLS connection was established" (or ECONNRESET), which names no setting.
  const tlsRefused = cfg.ssl && errors.some((e) => /before secure TLS connection|ECONNRESET|EPROTO|wrong version number/.test(e.message ?? ''));
  const security = tlsRefused
    ? ' KAFKA_SSL=true is set and no TLS session was made there: if that listener is PLAINTEXT (or SASL_PLAINTEXT), unset KAFKA_SSL or point KAFKA_BROKERS at the SSL listener.'
    : cfg.ssl || cfg.sasl
      ? ''
      : ' If the cluster needs TLS or SASL, set KAFKA_SSL / KAFKA_SASL_MECHANISM.';
  return new DependencyError(
    'KAFKA_UNREACHABLE',
    `could not reach Kafka at ${list} (KAFKA_BROKERS): ${reason}. Check that the brokers run and that KAFKA_BROKERS lists ` +
      `host:port addresses this machine can reach.${security}`,
    { cause: err, retriable: true, details: { variable: 'KAFKA_BROKERS', brokers } },
  );
}
