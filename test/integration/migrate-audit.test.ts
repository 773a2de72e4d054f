// `trackhouse migrate` as the Kubernetes Job runs it: first, on a broker where no trackhouse
// topic exists yet. The migrations it applied must reach the audit trail (it creates the topics
// it needs), not only a warning that they could not be written.
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka } from '../../src/kafka/index.js';
import { runCli } from '../support/cli.js';
import { TopicReader } from './ingest-support.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';

describe('trackhouse migrate on a new cluster', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('creates the topics and records the migrations it applied in the audit trail', async () => {
    const topics = uniqueTopicEnv('migrate-audit');
    const kafka = createKafka(testConfig(dir.path, topics).kafka, silentLogger());
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(topics.KAFKA_TOPIC_AUDIT);
      const cli = runCli(['migrate'], { ...topics, KAFKA_BROKERS: kafkaBrokers().join(','), TRACKHOUSE_DATA_DIR: dir.path, LOG_LEVEL: 'info' });
      expect(await cli.exited).toBe(0);
      expect(cli.logs().map((l) => l.msg)).not.toContain('the migrations applied could not be written to the audit trail');

      const reader = await new TopicReader(kafka, [topics.KAFKA_TOPIC_AUDIT!]).start();
      let records: Record<string, unknown>[];
      try {
        records = (await reader.waitFor(topics.KAFKA_TOPIC_AUDIT!, 1)).map((r) => JSON.parse(r.value.toString()) as Record<string, unknown>);
      } finally {
        await reader.stop();
      }
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ actor: 'process:migrate', action: 'migrate', outcome: 'ok' });
      expect((records[0]!.counts as { applied: number }).applied).toBeGreaterThan(0);
    } finally {
      await admin.disconnect();
    }
  });
});
