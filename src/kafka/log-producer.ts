// A producer for small, important records (the alert notification log): each send waits for
// every in-sync replica (acks=all) and is retried by kafkajs a few times, then by the caller. Not
// kafkajs's idempotent mode (it wants unbounded retries, and a caller could never stop): a record
// written twice is harmless here, as applying it twice is.
import type { Kafka, Producer } from 'kafkajs';
import { javaCompatiblePartitioner } from './partitioner.js';

export interface LogRecord {
  key: string;
  /** null: a tombstone (a compacted topic forgets the key). */
  value: Buffer | string | null;
}

export interface LogProducer {
  send(topic: string, records: readonly LogRecord[]): Promise<void>;
  close(): Promise<void>;
}

export async function createLogProducer(kafka: Kafka): Promise<LogProducer> {
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    maxInFlightRequests: 1,
    retry: { retries: 5 },
    createPartitioner: javaCompatiblePartitioner,
  });
  await producer.connect();
  return {
    async send(topic, records) {
      if (records.length === 0) return;
      await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value })) });
    },
    close: () => producer.disconnect(),
  };
}
