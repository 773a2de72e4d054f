// A consumer group's lag, read from the broker: high watermark minus committed offset, summed over
// the topic's partitions (a partition with nothing committed yet counts from 0).
import type { Kafka as KafkaClient } from 'kafkajs';

export async function groupLag(admin: ReturnType<KafkaClient['admin']>, topic: string, group: string): Promise<number> {
  const high = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const c = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return high.reduce((sum, h) => sum + Number(h.high) - Math.max(0, c.get(h.partition) ?? 0), 0);
}
