// The message a Kafka failure at start-up turns into names the setting to change.
import { describe, expect, it } from 'vitest';
import { DependencyError } from '../common/errors.js';
import { loadConfig } from '../config/index.js';
import { explainKafkaError } from './errors.js';

/** kafkajs's shapes: name, message, cause, and `errors` on an aggregate. */
const kafkajsError = (name: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name, ...extra });

describe('explainKafkaError', () => {
  const configured = loadConfig({ KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092' }).kafka;
  const local = loadConfig({ LOCAL_KAFKA_PORT: '9092' }).kafka;
  const refused = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'Connection error: connect ECONNREFUSED', {
    cause: kafkajsError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 10.0.0.1:9092'),
  });

  it('names KAFKA_BROKERS and the addresses tried when a configured cluster does not answer', () => {
    const e = explainKafkaError(refused, configured, ['kafka-0:9092', 'kafka-1:9092']);
    expect(e).toBeInstanceOf(DependencyError);
    expect((e as DependencyError).code).toBe('KAFKA_UNREACHABLE');
    expect((e as Error).message).toMatch(/could not reach Kafka at kafka-0:9092,kafka-1:9092 \(KAFKA_BROKERS\): .*ECONNREFUSED 10\.0\.0\.1:9092/);
  });

  it('points at the local broker and `trackhouse kafka run` when KAFKA_BROKERS is unset', () => {
    const e = explainKafkaError(refused, local, ['127.0.0.1:9092']) as Error;
    expect(e.message).toMatch(/KAFKA_BROKERS is not set, so the local development broker on LOCAL_KAFKA_PORT=9092 is expected/);
    expect(e.message).toContain('trackhouse kafka run');
  });

  it('names the SASL settings when the credentials are refused', () => {
    const e = explainKafkaError(kafkajsError('KafkaJSSASLAuthenticationError', 'SASL PLAIN authentication failed'), configured, ['kafka-0:9092']);
    expect((e as DependencyError).code).toBe('KAFKA_AUTH_FAILED');
    expect((e as Error).message).toMatch(/KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
  });

  // As kafkajs 2.2.4 throws it when the listener at KAFKA_BROKERS takes no SASL (a PLAINTEXT port
  // given to a client with KAFKA_SASL_MECHANISM set): the broker refuses the SaslHandshake request.
  it('names KAFKA_SASL_MECHANISM and KAFKA_BROKERS when the listener there does not speak SASL', () => {
    const sasl = loadConfig({ KAFKA_BROKERS: 'kafka-0:9092', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'Secr3t' }).kafka;
    const handshake = kafkajsError('KafkaJSProtocolError', 'Request is not valid given the current SASL state', { type: 'ILLEGAL_SASL_STATE', code: 34 });
    const e = explainKafkaError(handshake, sasl, ['kafka-0:9092']);
    expect(e).toBeInstanceOf(DependencyError);
    expect((e as DependencyError).code).toBe('KAFKA_AUTH_FAILED');
    expect((e as Error).message).toBe(
      'Kafka at kafka-0:9092 does not take SASL there (Request is not valid given the current SASL state), and KAFKA_SASL_MECHANISM=plain ' +
        'is set: point KAFKA_BROKERS at the listener that takes SASL (SASL_PLAINTEXT or SASL_SSL), or unset KAFKA_SASL_MECHANISM if the cluster needs none',
    );
  });

  it('names KAFKA_REPLICATION_FACTOR when the cluster refuses to create the topics', () => {
    const aggregate = kafkajsError('KafkaJSAggregateError', 'Topic creation errors', {
      errors: [kafkajsError('KafkaJSCreateTopicError', 'Replication factor: 3 larger than available brokers: 1.', { type: 'INVALID_REPLICATION_FACTOR' })],
    });
    const cfg = loadConfig({ KAFKA_BROKERS: 'k:9092', KAFKA_REPLICATION_FACTOR: '3' }).kafka;
    const e = explainKafkaError(aggregate, cfg, ['k:9092']) as Error;
    expect(e.message).toMatch(/refused to create the topics: Replication factor: 3 larger .*\(KAFKA_REPLICATION_FACTOR=3\)/);
  });

  // As kafkajs 2.2.4 on Node 20 gives it when KAFKA_SSL=true meets a PLAINTEXT listener (seen against the local broker).
  it('names KAFKA_SSL when the listener at KAFKA_BROKERS drops the TLS handshake', () => {
    const tls = loadConfig({ KAFKA_BROKERS: 'kafka-0:9092', KAFKA_SSL: 'true' }).kafka;
    const dropped = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'Connection error: Client network socket disconnected before secure TLS connection was established', {
      cause: kafkajsError('KafkaJSConnectionError', 'Connection error: Client network socket disconnected before secure TLS connection was established'),
    });
    const e = explainKafkaError(dropped, tls, ['kafka-0:9092']) as DependencyError;
    expect(e.code).toBe('KAFKA_UNREACHABLE');
    expect(e.message).toMatch(/KAFKA_SSL=true is set and no TLS session was made there: if that listener is PLAINTEXT .*unset KAFKA_SSL or point KAFKA_BROKERS at the SSL listener\.$/);
    // A refused connection with KAFKA_SSL set is not blamed on TLS.
    expect((explainKafkaError(refused, tls, ['kafka-0:9092']) as Error).message).not.toContain('KAFKA_SSL=true');
  });

  it('returns any other error as it was', () => {
    const other = new Error('something else');
    expect(explainKafkaError(other, configured, ['kafka-0:9092'])).toBe(other);
  });
});

