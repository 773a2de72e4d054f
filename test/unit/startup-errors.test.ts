// The messages start-up failures turn into: each names the setting to change.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainClickHouseError, type ClickHouseHandle } from '../../src/clickhouse/index.js';
import { listenError } from '../../src/common/listen-errors.js';
import { ConfigError, DependencyError } from '../../src/common/errors.js';
import { loadConfig } from '../../src/config/index.js';
import { explainKafkaError } from '../../src/kafka/index.js';

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

  it('names KAFKA_REPLICATION_FACTOR when the cluster refuses to create the topics', () => {
    const aggregate = kafkajsError('KafkaJSAggregateError', 'Topic creation errors', {
      errors: [kafkajsError('KafkaJSCreateTopicError', 'Replication factor: 3 larger than available brokers: 1.', { type: 'INVALID_REPLICATION_FACTOR' })],
    });
    const cfg = loadConfig({ KAFKA_BROKERS: 'k:9092', KAFKA_REPLICATION_FACTOR: '3' }).kafka;
    const e = explainKafkaError(aggregate, cfg, ['k:9092']) as Error;
    expect(e.message).toMatch(/refused to create the topics: Replication factor: 3 larger .*\(KAFKA_REPLICATION_FACTOR=3\)/);
  });

  it('returns any other error as it was', () => {
    const other = new Error('something else');
    expect(explainKafkaError(other, configured, ['kafka-0:9092'])).toBe(other);
  });
});

describe('explainClickHouseError', () => {
  const cfg = loadConfig({ CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_USER: 'analyst', CLICKHOUSE_DATABASE: 'tracking' }).clickhouse;
  const server = { engine: 'server', location: 'http://clickhouse:8123' } as ClickHouseHandle;
  const withCode = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

  it('names CLICKHOUSE_URL when nothing answers there', () => {
    const e = explainClickHouseError(withCode('connect ECONNREFUSED 10.0.0.2:8123', { code: 'ECONNREFUSED' }), server, cfg);
    expect(e?.code).toBe('CLICKHOUSE_UNREACHABLE');
    expect(e?.message).toMatch(/could not reach ClickHouse at http:\/\/clickhouse:8123 \(CLICKHOUSE_URL\)/);
  });

  it('names CLICKHOUSE_USER and CLICKHOUSE_PASSWORD when the server refuses the user', () => {
    const e = explainClickHouseError(withCode('analyst: Authentication failed', { code: '516', type: 'AUTHENTICATION_FAILED' }), server, cfg);
    expect(e?.message).toMatch(/refused user "analyst".*CLICKHOUSE_USER and CLICKHOUSE_PASSWORD/);
  });

  it('names CLICKHOUSE_DATABASE when the database does not exist', () => {
    const e = explainClickHouseError(withCode('Database tracking does not exist', { code: '81', type: 'UNKNOWN_DATABASE' }), server, cfg);
    expect(e?.message).toMatch(/no database "tracking" \(CLICKHOUSE_DATABASE\)/);
  });

  it('leaves other server errors to the statement that got them', () => {
    expect(explainClickHouseError(withCode('not allowed', { code: '497', type: 'ACCESS_DENIED' }), server, cfg)).toBeNull();
  });
});

describe('listenError', () => {
  let held: net.Server;
  let port = 0;
  beforeAll(async () => {
    held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    port = (held.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => held.close(() => resolve())));

  it('says the port variable is in use when it is', async () => {
    const e = await listenError('127.0.0.1', port, 'QUERY_PORT');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(new RegExp(`QUERY_PORT=${port} is already in use on 127\\.0\\.0\\.1.*set QUERY_PORT to a free port \\(0 picks one\\)`));
    expect(e.details).toMatchObject({ variable: 'QUERY_PORT', reason: 'EADDRINUSE' });
  });

  it('says HOST is not an address of this machine when it is not', async () => {
    const e = await listenError('256.1.1.1', 0, 'INGEST_PORT');
    expect(e.message).toMatch(/HOST=256\.1\.1\.1 is not an address of this machine/);
    expect(e.details).toMatchObject({ variable: 'HOST' });
  });
});
