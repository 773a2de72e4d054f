import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { topicSpecs, type BrokerDefaults } from './topics.js';

const unknown: BrokerDefaults = { replicationFactor: null, minInsyncReplicas: null };
const kafka = (env: Record<string, string> = {}) => loadConfig({ KAFKA_BROKERS: 'k1:9092', ...env }).kafka;
const settings = (specs: ReturnType<typeof topicSpecs>) =>
  Object.fromEntries(specs.map((s) => [s.topic, Object.fromEntries(s.configEntries.map((c) => [c.name, c.value]))]));

describe('topics trackhouse creates', () => {
  it('keep events and dead letters forever and rejected input 30 days on a cluster, by default', () => {
    expect(settings(topicSpecs(kafka(), unknown))).toEqual({
      'trackhouse.events': { 'retention.ms': '-1' },
      'trackhouse.rejected': { 'retention.ms': '2592000000' },
      'trackhouse.dlq': { 'retention.ms': '-1' },
      'trackhouse.regulations': { 'retention.ms': '-1', 'cleanup.policy': 'compact' },
      'trackhouse.audit': { 'retention.ms': '-1' },
    });
  });

  it('keep events 7 days on the local development broker (no KAFKA_BROKERS), by default', () => {
    expect(settings(topicSpecs(loadConfig({}).kafka, unknown))['trackhouse.events']).toEqual({ 'retention.ms': '604800000' });
  });

  it('take each topic retention from its variable', () => {
    const cfg = kafka({ KAFKA_EVENTS_RETENTION_MS: '86400000', KAFKA_REJECTED_RETENTION_MS: '-1', KAFKA_DLQ_RETENTION_MS: '3600000' });
    expect(settings(topicSpecs(cfg, unknown))).toEqual({
      'trackhouse.events': { 'retention.ms': '86400000' },
      'trackhouse.rejected': { 'retention.ms': '-1' },
      'trackhouse.dlq': { 'retention.ms': '3600000' },
      'trackhouse.regulations': { 'retention.ms': '-1', 'cleanup.policy': 'compact' },
      'trackhouse.audit': { 'retention.ms': '-1' },
    });
  });

  it('set min.insync.replicas=2 on every topic with 3 or more replicas, explicit or the cluster default', () => {
    const explicit = settings(topicSpecs(kafka({ KAFKA_REPLICATION_FACTOR: '3' }), unknown));
    const byDefault = settings(topicSpecs(kafka(), { replicationFactor: 3, minInsyncReplicas: 1 }));
    for (const s of [explicit, byDefault]) {
      expect(Object.values(s).map((c) => c['min.insync.replicas'])).toEqual(['2', '2', '2', '2', '2']);
    }
  });

  it('leave min.insync.replicas to the broker below 3 replicas, when unknown, or when the broker already asks for 2 or more', () => {
    const cases: [Record<string, string>, BrokerDefaults][] = [
      [{ KAFKA_REPLICATION_FACTOR: '1' }, unknown],
      [{ KAFKA_REPLICATION_FACTOR: '2' }, { replicationFactor: 3, minInsyncReplicas: 1 }],
      [{}, unknown],
      [{}, { replicationFactor: 1, minInsyncReplicas: 1 }],
      [{ KAFKA_REPLICATION_FACTOR: '5' }, { replicationFactor: 3, minInsyncReplicas: 3 }],
    ];
    for (const [env, broker] of cases) {
      const entries = topicSpecs(kafka(env), broker).flatMap((s) => s.configEntries.map((c) => c.name));
      expect(entries).toEqual(['retention.ms', 'retention.ms', 'retention.ms', 'retention.ms', 'cleanup.policy', 'retention.ms']);
    }
  });

  it('give the events topic KAFKA_PARTITIONS and the others at most 3', () => {
    expect(topicSpecs(kafka({ KAFKA_PARTITIONS: '12' }), unknown).map((s) => s.numPartitions)).toEqual([12, 3, 3, 1, 1]);
  });
});
