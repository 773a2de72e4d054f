// Decode worker (piscina): Avro records in, TabSeparated rows of `events` out. CPU only; the main
// thread does all Kafka and ClickHouse I/O (chDB runs in the main thread's process and wants
// its calls from one place).
//
// Why it looks like this: the payload is written row by row into one Buffer the worker owns, and
// that buffer and the per-row arrays are transferred back (moved, not copied). Each row's
// identity hash is computed here so the main thread only probes its resend window.
import { isUtf8 } from 'node:buffer';
import { getHeapStatistics } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { DecodeError, encodeTsvRow, escapeTsv, EventCodec, InvalidEventError, userKeyOf } from '../schema/index.js';
import { hashPair, hashPairAscii } from '../dedup/hash.js';
import { nameThread, THREAD } from '../common/threads.js';
import { SLOW, tsvRowMax, writeTsvRow, type RowFields } from './tsvrow.js';
import type { DecodeFailure, DecodeResult, DecodeTask } from './types.js';

const codec = new EventCodec();
if (!isMainThread) nameThread(THREAD.sinkDecode);

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
/** Buffer's own utf8Slice (what avsc's readString uses). */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: Utf8Slice }).utf8Slice;
const fields: RowFields = { asciiIds: true, idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, receivedAt: 0 };

export default function decode(task: DecodeTask): unknown {
  return move(decodeTask(task, codec.specialised) as never);
}

/**
 * The task's rows, with its buffers listed for transfer. `bytes`: write rows straight from the
 * Avro bytes (./tsvrow.ts) where it can; false: every record the string way (avsc's record, then
 * encodeTsvRow), which the byte way must match byte for byte (tsvrow.test.ts compares them).
 */
export function decodeTask(task: DecodeTask, bytes: boolean): { [transferableSymbol]: ArrayBufferLike[]; [valueSymbol]: DecodeResult } {
  const n = task.ends.length;
  const values = Buffer.from(task.values.buffer, task.values.byteOffset, task.values.byteLength);
  const topicField = escapeTsv(task.topic);
  const topic = Buffer.from(topicField, 'utf8');
  // TSV is a little larger than Avro (timestamps as text, the topic on each row); grow if needed.
  let payload: Buffer = Buffer.allocUnsafeSlow(Math.max(4096, Math.ceil(values.length * 1.5) + n * 48));
  let used = 0;
  const rowEnds = new Uint32Array(n);
  const rowRecord = new Uint32Array(n);
  const ids = new Uint32Array(n * 2);
  const receivedAt = new Float64Array(n);
  const failures: DecodeFailure[] = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const start = task.starts[i]!;
    const end = task.ends[i]!;
    const offset = task.offsets[i]!;
    if (bytes) {
      const room = tsvRowMax(end - start, topic.length);
      if (payload.length - used < room) payload = grow(payload, used, room);
      const after = writeTsvRow(values, start, end, codec.writerId, topic, task.partition, offset, payload, used, fields);
      if (after !== SLOW) {
        used = after;
        rowEnds[rows] = used;
        rowRecord[rows] = i;
        if (fields.asciiIds) hashPairAscii(values, fields.userFrom, fields.userTo, fields.idFrom, fields.idTo, ids, rows * 2);
        else hashPair(utf8Slice.call(values, fields.userFrom, fields.userTo), utf8Slice.call(values, fields.idFrom, fields.idTo), ids, rows * 2);
        receivedAt[rows] = fields.receivedAt;
        rows++;
        continue;
      }
    }
    let line: string;
    let userKey: string;
    let eventId: string;
    let received: number;
    try {
      const record = codec.decode(values.subarray(start, end));
      line = encodeTsvRow(record, topicField, task.partition, offset);
      userKey = userKeyOf(record);
      eventId = record.event_id;
      received = record.received_at;
    } catch (err) {
      const code = err instanceof DecodeError || err instanceof InvalidEventError ? err.code : 'RECORD_UNDECODABLE';
      failures.push({ index: i, code, message: (err as Error).message });
      continue;
    }
    // A row is at most 3 bytes per UTF-16 unit; make room before writing so write() never truncates.
    if (payload.length - used < line.length * 3) payload = grow(payload, used, line.length * 3);
    used += payload.write(line, used, 'utf8');
    rowEnds[rows] = used;
    rowRecord[rows] = i;
    hashPair(userKey, eventId, ids, rows * 2);
    receivedAt[rows] = received;
    rows++;
  }
  // Copied bytes equal the string way's only when well-formed UTF-8 (./tsvrow.ts); one native
  // check of the payload covers every row. Otherwise (input no trackhouse ingest writes) the
  // whole task goes the string way, which replaces what is not UTF-8 as before.
  if (bytes && !isUtf8(payload.subarray(0, used))) return decodeTask(task, false);
  const result: DecodeResult = {
    rows,
    payload: new Uint8Array(payload.buffer, payload.byteOffset, used),
    rowEnds,
    rowRecord,
    ids,
    receivedAt,
    failures,
    heapUsed: getHeapStatistics().used_heap_size,
    threadId,
  };
  return {
    [transferableSymbol]: [payload.buffer, rowEnds.buffer, rowRecord.buffer, ids.buffer, receivedAt.buffer],
    [valueSymbol]: result,
  };
}

function grow(buf: Buffer, used: number, need: number): Buffer {
  const next = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, used + need));
  buf.copy(next, 0, 0, used);
  return next;
}
