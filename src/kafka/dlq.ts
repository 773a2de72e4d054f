// Producer for the dead-letter topic: records the sink cannot decode, with why, kept byte for
// byte. Sends wait for all in-sync replicas, so the sink commits past a record only once its
// copy in the DLQ is durable.
import type { IHeaders, Kafka, Producer } from 'kafkajs';
import { compressionType } from './compression.js';
import { javaCompatiblePartitioner } from './partitioner.js';

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

export interface DeadLetterProducer {
  send(records: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

/** `compression` is KAFKA_COMPRESSION, as for every producer of the project (no default, so no caller can forget it). */
export async function createDeadLetterProducer(kafka: Kafka, topic: string, compression: 'lz4' | 'gzip' | 'none'): Promise<DeadLetterProducer> {
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    // A dead letter must not be dropped: retry retriable errors without end, as kafkajs advises
    // for idempotent producers (the sink waits, and its group membership is kept alive).
    retry: { retries: Number.MAX_SAFE_INTEGER },
    createPartitioner: javaCompatiblePartitioner,
  });
  await producer.connect();
  return {
    async send(records) {
      if (records.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        compression: compressionType(compression),
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      });
    },
    close: () => producer.disconnect(),
  };
}
