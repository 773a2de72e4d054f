// Main-thread side of decoding: cut a fetch into worker tasks, run them, keep each task's records
// beside its result. Records the caller does not want (below the floor, outside a replay range)
// are never copied or decoded.
import type { FetchedMessage, PartitionBatch } from '../kafka/consumer.js';
import type { DecodePool } from './pool.js';
import type { DecodeResult } from './types.js';

export interface TaskLimits {
  records: number;
  bytes: number;
}

/** A task's records and what the worker made of them. */
export interface Chunk {
  topic: string;
  partition: number;
  records: readonly FetchedMessage[];
  result: DecodeResult;
}

export interface DecodedFetch {
  chunks: Chunk[];
  /** Records with no value (tombstones): nothing to decode, they go to the DLQ. */
  empty: { topic: string; partition: number; record: FetchedMessage }[];
  /** Records outside the wanted offsets. */
  filtered: number;
  /** Records of erased users (the erasure list): never decoded, never stored. */
  erased: number;
}

/** The erasure list's check (src/erasure/): whether a record of the events topic must not be stored. */
export interface RecordFilter {
  skipsRecord(key: Buffer | null, timestamp: string): boolean;
}

/** Offsets wanted from a partition: after `after`, before `before` (both exclusive). */
export interface OffsetWindow {
  after: number;
  before: number;
}

export async function decodeFetch(
  pool: DecodePool,
  batches: readonly PartitionBatch[],
  wanted: (partition: number) => OffsetWindow,
  limits: TaskLimits,
  erasures?: RecordFilter,
): Promise<DecodedFetch> {
  const pending: Promise<Chunk>[] = [];
  const empty: DecodedFetch['empty'] = [];
  let filtered = 0;
  let erased = 0;
  for (const batch of batches) {
    let records: FetchedMessage[] = [];
    let bytes = 0;
    const { after, before } = wanted(batch.partition);
    const flush = () => {
      if (records.length > 0) pending.push(run(pool, batch, records, bytes));
      records = [];
      bytes = 0;
    };
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset <= after || offset >= before) {
        filtered++;
        continue;
      }
      // By the Kafka key (the user key), before any copy or decode: one size check while nobody is erased.
      if (erasures !== undefined && erasures.skipsRecord(m.key, m.timestamp)) {
        erased++;
        continue;
      }
      if (m.value === null) {
        empty.push({ topic: batch.topic, partition: batch.partition, record: m });
        continue;
      }
      records.push(m);
      bytes += m.value.length;
      if (records.length >= limits.records || bytes >= limits.bytes) flush();
    }
    flush();
  }
  return { chunks: await Promise.all(pending), empty, filtered, erased };
}

async function run(pool: DecodePool, batch: PartitionBatch, records: FetchedMessage[], bytes: number): Promise<Chunk> {
  // One copy of the values into a buffer the worker will own (transferred, not cloned).
  const values = new Uint8Array(bytes);
  const ends = new Uint32Array(records.length);
  const offsets = new Float64Array(records.length);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const m = records[i]!;
    values.set(m.value!, at);
    at += m.value!.length;
    ends[i] = at;
    offsets[i] = Number(m.offset);
  }
  const result = await pool.decode({ topic: batch.topic, partition: batch.partition, values, ends, offsets });
  return { topic: batch.topic, partition: batch.partition, records, result };
}
