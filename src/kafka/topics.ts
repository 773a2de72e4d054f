// Creates the project's topics when they are missing; leaves existing ones as they are.
import type { Kafka } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';

export async function ensureTopics(kafka: Kafka, cfg: KafkaConfig): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [cfg.topics.events, cfg.topics.rejected, cfg.topics.dlq].filter((t) => !existing.has(t));
    if (wanted.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: wanted.map((topic) => ({
        topic,
        numPartitions: topic === cfg.topics.events ? cfg.partitions : Math.min(cfg.partitions, 3),
        replicationFactor: cfg.replicationFactor,
      })),
    });
    return wanted;
  } finally {
    await admin.disconnect();
  }
}
