// Producer for the dead-letter topic: records the sink cannot decode, with why, kept byte for
// byte. Sends wait for all in-sync replicas, so the sink commits past a record only once its
// copy in the DLQ is durable.
//
// Sizes: the broker refuses a partition's batch over its message.max.bytes (1 MB by default), for
// good, so a round's letters go in requests of at most MAX_REQUEST_BYTES (sizes.ts), and a letter that alone
// is larger (a record near the events topic's own limit, plus the context headers) keeps the
// first bytes of its value, with `trackhouse.original_bytes`: the whole record stays at the
// topic, partition and offset its headers name.
import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { compressionType } from './compression.js';
import { javaCompatiblePartitioner } from './partitioner.js';
import { byteGroups, MAX_REQUEST_BYTES, messageBytes } from './sizes.js';

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
      for (const messages of byteGroups(records.map(fitted))) {
        await producer.send({ topic, acks: -1, compression: compressionType(compression), messages });
      }
    },
    close: () => producer.disconnect(),
  };
}

/** The letter as a message, its value cut to fit MAX_REQUEST_BYTES alone. */
function fitted(r: DeadLetter): Message {
  const m: Message = { key: r.key, value: r.value, headers: r.headers };
  const over = messageBytes(m) - MAX_REQUEST_BYTES;
  if (over <= 0 || r.value === null) return m;
  const value = r.value.subarray(0, Math.max(0, r.value.length - over - 64));
  return { key: r.key, value, headers: { ...r.headers, 'trackhouse.original_bytes': String(r.value.length) } };
}
