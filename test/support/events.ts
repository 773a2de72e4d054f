// Event records and Kafka batches of them for unit tests: a test names only the fields it is about,
// and the view's tests encode batches one way.
import { emptyRecord } from '../../src/ingest/normalize.js';
import type { ReadBatch, ReadRecord } from '../../src/kafka/reader.js';
import { EventCodec, type EventRecord } from '../../src/schema/index.js';

const codec = new EventCodec();

/** A track event of user `u` with every optional field empty; `over` sets what the test is about. */
export function eventRecord(over: Partial<EventRecord> = {}): EventRecord {
  const t = Date.UTC(2026, 9, 1);
  return { ...emptyRecord(), event_id: 'e-0', event: 'Clicked', user_id: 'u', timestamp: t, received_at: t, source: 'web', ...over };
}

/**
 * The events as one fetch of topic `t`'s `partition` from offset `first` on, Avro-encoded as ingest
 * writes them; `keyed`: each record keyed by its user id and stamped with its arrival, as ingest
 * sends it (else no key and timestamp 0, which the view does not read).
 */
export function recordBatch(partition: number, first: number, events: readonly EventRecord[], keyed = false): ReadBatch {
  const records: ReadRecord[] = events.map((e, i) => ({
    offset: String(first + i),
    key: keyed && e.user_id !== null ? Buffer.from(e.user_id) : null,
    value: codec.encode(e),
    timestamp: keyed ? String(e.received_at) : '0',
  }));
  return { topic: 't', partition, records, lastOffset: first + events.length - 1, highWatermark: first + events.length };
}
