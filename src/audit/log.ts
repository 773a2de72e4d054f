// Writing audit records: to the trackhouse.audit topic, acks=all, so a record is durable before
// the action it records is reported done.
import type { Kafka, Producer } from 'kafkajs';
import { javaCompatiblePartitioner } from '../kafka/partitioner.js';
import type { AuditRecord } from './record.js';

export interface AuditLog {
  record(r: AuditRecord): Promise<void>;
  close(): Promise<void>;
}

export async function createAuditLog(kafka: Kafka, topic: string): Promise<AuditLog> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: javaCompatiblePartitioner });
  await producer.connect();
  return {
    async record(r) {
      await producer.send({ topic, acks: -1, messages: [{ key: r.id, value: JSON.stringify(r), timestamp: String(r.time) }] });
    },
    close: () => producer.disconnect(),
  };
}
