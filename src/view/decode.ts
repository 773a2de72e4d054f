// Decoding for the view's builder, off its thread: Avro records in, everything the builder needs
// to write them out, as flat typed arrays and two byte slabs, so the builder thread only checks
// offsets, resends and the horizon and queues puts (profiling a 1 M-event build showed decoding,
// validating and rendering at about 60 % of the builder's time; this is the part that runs in
// parallel).
//
// Per record i of a task:
//   status[i]   0 = an event; 1 = not one the sink would write (undecodable, or a time outside
//               DateTime64: the sink dead-letters it)
//   the event as the view stores it (./render.ts: a header, then its reply JSON): json[jsonEnds[i - 1] .. jsonEnds[i])
//   its keys: keys[keyEnds[3i] .. keyEnds[3i + 1]) events key, .. keyEnds[3i + 2]) by_type key,
//               .. keyEnds[3i + 3] = keyEnds[3(i + 1)]) by_event key (empty: no event name)
//   userBytes[i] length of the user part U at the start of the events key
//   ts, receivedAt, typeCode, ids (identity hash: high half at 2i, low half at 2i + 1)
import { hashPair, hashPairAscii } from '../dedup/hash.js';
import { EVENT_TYPES, EventCodec, recordTimesStorable, userKeyOf, type EventRecord } from '../schema/index.js';
import { avroRowMax, readAvroRow, SLOW, type AvroFields } from './avrorow.js';
import { KeyWriter, TYPE_CODES } from './keys.js';
import { recordJson, storedEventMax, writeStoredEvent } from './render.js';

export interface DecodeTask {
  /** Record values back to back; record i is values[ends[i - 1] ?? 0, ends[i]); an empty one has no value. */
  values: Uint8Array;
  ends: Uint32Array;
  /** 1 where the record had no value (a tombstone). */
  empty: Uint8Array;
}

export interface DecodedRecords {
  n: number;
  status: Uint8Array;
  json: Uint8Array;
  jsonEnds: Uint32Array;
  keys: Uint8Array;
  keyEnds: Uint32Array;
  userBytes: Uint16Array;
  ts: Float64Array;
  receivedAt: Float64Array;
  typeCode: Uint8Array;
  ids: Uint32Array;
}

const codec = new EventCodec();
const keys = new KeyWriter();
/** Records of the newest schema are read straight from their bytes (./avrorow.ts) when its layout is the one that reader knows. */
const byteRowsSchema = codec.specialised ? codec.writerId : -1;
const f: AvroFields = { ascii: true, eventId: '', userKey: '', idFrom: 0, idTo: 0, userFrom: 0, userTo: 0, eventFrom: -1, eventTo: -1, typeIndex: 0, timestamp: 0, receivedAt: 0 };
const TYPE_CODE_BY_INDEX = EVENT_TYPES.map((t) => TYPE_CODES.get(t) ?? 0);

function grow(buf: Buffer, used: number, need: number): Buffer {
  const next = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, used + need));
  buf.copy(next, 0, 0, used);
  return next;
}

/**
 * Decodes a task (in a decode thread, or in the builder's own thread for small rounds).
 * `byteRows` false: every record the string way (decode, render, write), for tests comparing both.
 */
export function decodeRecords(task: DecodeTask, byteRows = true): DecodedRecords {
  const n = task.ends.length;
  const values = Buffer.from(task.values.buffer, task.values.byteOffset, task.values.byteLength);
  const status = new Uint8Array(n);
  let json: Buffer = Buffer.allocUnsafeSlow(Math.max(4096, Math.ceil(values.length * 2)));
  let jsonAt = 0;
  const jsonEnds = new Uint32Array(n);
  let keySlab: Buffer = Buffer.allocUnsafeSlow(Math.max(4096, n * 256));
  let keyAt = 0;
  const keyEnds = new Uint32Array(3 * n + 1);
  const userBytes = new Uint16Array(n);
  const ts = new Float64Array(n);
  const receivedAt = new Float64Array(n);
  const typeCode = new Uint8Array(n);
  const ids = new Uint32Array(2 * n);
  const schema = byteRows ? byteRowsSchema : -1;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = task.ends[i]!;
    keyEnds[3 * i] = keyAt;
    // A record that is no event has no bytes: its ends stay where the previous one's are.
    jsonEnds[i] = jsonAt;
    const from = start;
    start = end;
    if (task.empty[i] !== 0) {
      invalid(i);
      continue;
    }
    // Hot path: most records are read from their bytes; the rest (another schema version,
    // malformed, non-UTF-8 bytes) the string way, which decides them exactly as the sink does.
    const need = avroRowMax(end - from);
    if (json.length - jsonAt < need) json = grow(json, jsonAt, need);
    const written = schema < 0 ? SLOW : readAvroRow(values, from, end, schema, json, jsonAt, f);
    const k = keys.reset();
    let u: number;
    let tail: number;
    let code: number;
    let byEventAt: number; // where the by_event key starts in the key writer
    if (written !== SLOW) {
      jsonAt += written;
      code = TYPE_CODE_BY_INDEX[f.typeIndex]!;
      ts[i] = f.timestamp;
      receivedAt[i] = f.receivedAt;
      if (f.ascii) hashPairAscii(values, f.userFrom, f.userTo, f.idFrom, f.idTo, ids, 2 * i);
      else hashPair(f.userKey, f.eventId, ids, 2 * i);
      // The three keys (see keys.ts): U T I, U y T I, U E T I, straight from the record's bytes
      // (well-formed UTF-8: what name() and id() write of its strings).
      u = k.nameBytes(values, f.userFrom, f.userTo).at;
      tail = k.time(f.timestamp).idBytes(values, f.idFrom, f.idTo).at;
      k.part(k.buf, 0, u).byte(code).part(k.buf, u, tail);
      byEventAt = k.at;
      if (f.eventFrom >= 0) k.part(k.buf, 0, u).nameBytes(values, f.eventFrom, f.eventTo).part(k.buf, u, tail);
    } else {
      let r: EventRecord;
      try {
        r = codec.decode(values.subarray(from, end));
      } catch {
        invalid(i);
        continue;
      }
      if (!recordTimesStorable(r)) {
        invalid(i);
        continue;
      }
      const userKey = userKeyOf(r);
      code = TYPE_CODES.get(r.type) ?? 0;
      ts[i] = r.timestamp;
      receivedAt[i] = r.received_at;
      hashPair(userKey, r.event_id, ids, 2 * i);
      const text = recordJson(r);
      const max = storedEventMax(text.length);
      if (json.length - jsonAt < max) json = grow(json, jsonAt, max);
      jsonAt += writeStoredEvent(text, json, jsonAt);
      u = k.name(userKey).at;
      tail = k.time(r.timestamp).id(r.event_id).at;
      k.part(k.buf, 0, u).byte(code).part(k.buf, u, tail);
      byEventAt = k.at;
      if (r.event !== null && r.event !== '') k.part(k.buf, 0, u).name(r.event).part(k.buf, u, tail);
    }
    jsonEnds[i] = jsonAt;
    typeCode[i] = code;
    const size = k.at;
    if (keySlab.length - keyAt < size) keySlab = grow(keySlab, keyAt, size);
    k.buf.copy(keySlab, keyAt, 0, size);
    userBytes[i] = u;
    keyEnds[3 * i + 1] = keyAt + tail;
    keyEnds[3 * i + 2] = keyAt + byEventAt;
    keyAt += size;
  }
  keyEnds[3 * n] = keyAt;
  return {
    n,
    status,
    json: new Uint8Array(json.buffer, json.byteOffset, jsonAt),
    jsonEnds,
    keys: new Uint8Array(keySlab.buffer, keySlab.byteOffset, keyAt),
    keyEnds,
    userBytes,
    ts,
    receivedAt,
    typeCode,
    ids,
  };

  /** Record i is not one the sink would write: no bytes, no keys. */
  function invalid(i: number): void {
    status[i] = 1;
    keyEnds[3 * i + 1] = keyAt;
    keyEnds[3 * i + 2] = keyAt;
  }
}

/** The transferable buffers of a result (moved to the builder, never copied). */
export function transferables(d: DecodedRecords): ArrayBuffer[] {
  return [d.status, d.json, d.jsonEnds, d.keys, d.keyEnds, d.userBytes, d.ts, d.receivedAt, d.typeCode, d.ids].map((a) => a.buffer as ArrayBuffer);
}
