// Producer for the dead-letter topic: records the sink cannot decode, with why, kept byte for
// byte. Sends wait for all in-sync replicas, so the sink commits past a record only once its
// copy in the DLQ is durable.
//
// Sizes: the broker refuses a partition's batch over its message.max.bytes (1 MB by default), for
// good, so a round's letters go in requests of at most MAX_REQUEST_BYTES, and a letter that alone
// is larger (a record near the events topic's own limit, plus the context headers) keeps the
// first bytes of its value, with `trackhouse.original_bytes`: the whole record stays at the
// topic, partition and offset its headers name.
import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { compressionType } from './compression.js';
import { javaCompatiblePartitioner } from './partitioner.js';

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** As the ingest's produce requests (INGEST_PRODUCE_MAX_BYTES): under the broker's default message.max.bytes. */
export const DLQ_MAX_REQUEST_BYTES = 1_000_000;
/** Per-record overhead inside a batch (lengths, attributes, deltas), counted generously. */
const RECORD_OVERHEAD = 64;

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
      for (const messages of requests(records, DLQ_MAX_REQUEST_BYTES)) {
        await producer.send({ topic, acks: -1, compression: compressionType(compression), messages });
      }
    },
    close: () => producer.disconnect(),
  };
}

/** The letters as messages in groups of at most `max` bytes, each letter cut to fit alone. */
export function requests(records: readonly DeadLetter[], max: number): Message[][] {
  const out: Message[][] = [];
  let group: Message[] = [];
  let bytes = 0;
  for (const r of records) {
    const m = fitted(r, max);
    const size = letterBytes(m);
    if (bytes + size > max && group.length > 0) {
      out.push(group);
      group = [];
      bytes = 0;
    }
    group.push(m);
    bytes += size;
  }
  if (group.length > 0) out.push(group);
  return out;
}

function fitted(r: DeadLetter, max: number): Message {
  const m: Message = { key: r.key, value: r.value, headers: r.headers };
  const over = letterBytes(m) - max;
  if (over <= 0 || r.value === null) return m;
  const value = r.value.subarray(0, Math.max(0, r.value.length - over - 64));
  return { key: r.key, value, headers: { ...r.headers, 'trackhouse.original_bytes': String(r.value.length) } };
}

function letterBytes(m: Message): number {
  let n = RECORD_OVERHEAD + byteLength(m.key) + byteLength(m.value);
  for (const k in m.headers) {
    const v = m.headers[k];
    n += Buffer.byteLength(k) + 8;
    if (Array.isArray(v)) for (const x of v) n += byteLength(x) + 8;
    else n += byteLength(v);
  }
  return n;
}

function byteLength(v: Buffer | string | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
