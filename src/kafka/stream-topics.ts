// The two topics of the alerts leader election and notification log, created when missing
// (an existing topic is left as it is, like the pipeline's own topics).
//   <alerts>        one partition, compacted: per rule and group, the last notification sent or
//                   given up, so a new leader knows what receivers were told.
//   <alerts>.lease  one partition, never written: its consumer group is the leader lease.
import type { Kafka } from 'kafkajs';
import type { Logger } from '../common/log.js';

export async function ensureStreamTopics(kafka: Kafka, topics: { alerts: string; lease: string }, replicationFactor: number, log?: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: topics.alerts, numPartitions: 1, replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      { topic: topics.lease, numPartitions: 1, replicationFactor, configEntries: [{ name: 'retention.ms', value: String(3_600_000) }] },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length === 0) return;
    try {
      await admin.createTopics({ waitForLeaders: false, topics: wanted });
    } catch (err) {
      // Another replica created it in between.
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
    // Then wait for leaders ourselves: kafkajs's wait gives up on the "does not host this
    // topic-partition" a broker answers while a new topic's metadata spreads.
    const names = wanted.map((t) => t.topic);
    for (let i = 0; ; i++) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: names });
        if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) break;
      } catch (err) {
        if (i >= 50) throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log?.info({ topics: names }, 'created the alerts topics');
  } finally {
    await admin.disconnect();
  }
}
