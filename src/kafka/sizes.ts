// Produce requests the broker takes: it refuses, for good (MESSAGE_TOO_LARGE), a partition's
// batch over its message.max.bytes (1 MB by default), so the producers that send a caller's
// records in one call split them by their bytes first.
import type { Message } from 'kafkajs';

/** As the ingest's produce requests (INGEST_PRODUCE_MAX_BYTES): under the broker's default message.max.bytes. */
export const MAX_REQUEST_BYTES = 1_000_000;
/** Per-record overhead inside a batch (lengths, attributes, deltas), counted generously. */
const RECORD_OVERHEAD = 64;

/** A message's bytes in a batch (before compression). */
export function messageBytes(m: Message): number {
  let n = RECORD_OVERHEAD + byteLength(m.key) + byteLength(m.value);
  for (const k in m.headers) {
    const v = m.headers[k];
    n += Buffer.byteLength(k) + 8;
    if (Array.isArray(v)) for (const x of v) n += byteLength(x) + 8;
    else n += byteLength(v);
  }
  return n;
}

/** The messages in order, in groups of at most `max` bytes (a larger message alone). */
export function byteGroups(messages: readonly Message[], max = MAX_REQUEST_BYTES): Message[][] {
  const out: Message[][] = [];
  let group: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = messageBytes(m);
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

function byteLength(v: Buffer | string | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
