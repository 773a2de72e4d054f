// The topics trackhouse creates, as the real broker describes them: each with its configured
// retention; an existing topic is never altered, and a retention or an events partition count that
// differs is logged.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createAuditLog } from '../../src/audit/log.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { kafkajs } from '../../src/kafka/kafkajs.js';
import { tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { capturingLogger } from '../support/log.js';

type Admin = ReturnType<Kafka['admin']>;

/** configSource 1 is a setting of the topic itself; 4 the broker's server.properties (the test broker sets min.insync.replicas=1). */
const TOPIC = 1;
const BROKER = 4;

async function topicConfigs(admin: Admin, topics: string[]): Promise<Record<string, Record<string, { value: string; source: number }>>> {
  const res = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: kafkajs().ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms', 'min.insync.replicas'] })),
  });
  return Object.fromEntries(
    res.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, { value: e.configValue, source: e.configSource }]))]),
  );
}

describe('ensureTopics', () => {
  const dir = tempDir();
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    kafka = createKafka(testConfig(dir.path).kafka, silentLogger());
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    dir.remove();
  });

  it('creates events, dlq, the erasure list (compacted) and the audit trail kept forever and rejected kept 30 days by default, min.insync.replicas left to a 1-replica broker', async () => {
    const config = testConfig(dir.path, uniqueTopicEnv('topics'));
    const { events, rejected, dlq, regulations, audit } = config.kafka.topics;
    const { log, lines } = capturingLogger('info');
    expect(await ensureTopics(kafka, config.kafka, log)).toEqual([events, rejected, dlq, regulations, audit]);
    // The cluster's replication defaults were read (no warning that they could not be).
    expect(lines.map((l) => l.msg)).toEqual(['created Kafka topics']);
    expect(await topicConfigs(admin, [events, rejected, dlq])).toEqual({
      [events]: { 'retention.ms': { value: '-1', source: TOPIC }, 'min.insync.replicas': { value: '1', source: BROKER } },
      [rejected]: { 'retention.ms': { value: '2592000000', source: TOPIC }, 'min.insync.replicas': { value: '1', source: BROKER } },
      [dlq]: { 'retention.ms': { value: '-1', source: TOPIC }, 'min.insync.replicas': { value: '1', source: BROKER } },
    });
    const policy = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [regulations, audit].map((name) => ({ type: kafkajs().ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy', 'retention.ms'] })),
    });
    const settings = Object.fromEntries(policy.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]));
    expect(settings).toEqual({ [regulations]: { 'cleanup.policy': 'compact', 'retention.ms': '-1' }, [audit]: { 'cleanup.policy': 'delete', 'retention.ms': '-1' } });
  });

  it('applies KAFKA_*_RETENTION_MS to the topics it creates, and on a second call creates nothing and logs nothing', async () => {
    const config = testConfig(dir.path, {
      ...uniqueTopicEnv('topics'),
      KAFKA_EVENTS_RETENTION_MS: '86400000',
      KAFKA_REJECTED_RETENTION_MS: '3600000',
      KAFKA_DLQ_RETENTION_MS: '172800000',
    });
    const { events, rejected, dlq, regulations, audit } = config.kafka.topics;
    const first = capturingLogger('info');
    expect(await ensureTopics(kafka, config.kafka, first.log)).toEqual([events, rejected, dlq, regulations, audit]);
    const described = await topicConfigs(admin, [events, rejected, dlq]);
    expect([events, rejected, dlq].map((t) => described[t]!['retention.ms']!.value)).toEqual(['86400000', '3600000', '172800000']);
    expect(first.lines.map((l) => [l.level, l.msg])).toEqual([[30, 'created Kafka topics']]);
    expect((first.lines[0]!.topics as { topic: string; 'retention.ms': string }[]).map((t) => [t.topic, t['retention.ms']])).toEqual([
      [events, '86400000'],
      [rejected, '3600000'],
      [dlq, '172800000'],
      [regulations, '-1'],
      [audit, '-1'],
    ]);

    const again = capturingLogger('info');
    expect(await ensureTopics(kafka, config.kafka, again.log)).toEqual([]);
    expect(again.lines).toEqual([]);
  });

  it("creates topics with no warning or error line, kafkajs's own included (a first start showed an ERROR for a topic not yet known), and an audit producer warns of nothing", async () => {
    const { log, lines } = capturingLogger('warn');
    const logged = createKafka(testConfig(dir.path).kafka, log);
    for (let i = 0; i < 4; i++) {
      const config = testConfig(dir.path, { ...uniqueTopicEnv('topics'), KAFKA_PARTITIONS: '6' });
      expect(await ensureTopics(logged, config.kafka, log)).toHaveLength(5);
      const audit = await createAuditLog(logged, config.kafka.topics.audit);
      await audit.close();
    }
    expect(lines.map((l) => [l.level, l.msg, l.error])).toEqual([]);
  });

  /**
   * Topics created with `first`'s settings, then ensureTopics again with `then`'s (the same topic
   * names): what the second call created (nothing, it must be) and logged, and its config.
   */
  async function createdThenAgain(first: Record<string, string>, then: Record<string, string>) {
    const env = uniqueTopicEnv('topics');
    await ensureTopics(kafka, testConfig(dir.path, { ...env, ...first }).kafka);
    const later = testConfig(dir.path, { ...env, ...then });
    const { log, lines } = capturingLogger('info');
    expect(await ensureTopics(kafka, later.kafka, log)).toEqual([]);
    return { later, lines };
  }

  it('never alters an existing topic whose retention differs, and logs the difference naming the variable', async () => {
    const { later, lines } = await createdThenAgain({ KAFKA_EVENTS_RETENTION_MS: '86400000' }, { KAFKA_EVENTS_RETENTION_MS: '-1' });
    const { events, rejected, dlq } = later.kafka.topics;
    const described = await topicConfigs(admin, [events, rejected, dlq]);
    expect([events, rejected, dlq].map((t) => described[t]!['retention.ms']!.value)).toEqual(['86400000', '2592000000', '-1']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, topic: events, retentionMs: 86_400_000, configured: -1, variable: 'KAFKA_EVENTS_RETENTION_MS' });
    expect(lines[0]!.msg).toMatch(/never changes an existing topic/);
  });

  it('never adds partitions to an existing events topic, and logs a KAFKA_PARTITIONS that differs', async () => {
    const { later, lines } = await createdThenAgain({ KAFKA_PARTITIONS: '2' }, { KAFKA_PARTITIONS: '4' });
    const { events } = later.kafka.topics;
    const meta = await admin.fetchTopicMetadata({ topics: [events] });
    expect(meta.topics[0]!.partitions).toHaveLength(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, topic: events, partitions: 2, configured: 4, variable: 'KAFKA_PARTITIONS' });
    expect(lines[0]!.msg).toMatch(/never changes an existing topic.*QUERY_SHARDS/);
  });
});
