// Faster, byte-identical replacements for three kafkajs 2.2.4 internals on the per-record hot path.
//
// kafkajs is unmaintained, and it spends most of the ingest's and the sink's CPU in a few places:
//   - producer/groupMessagesPerPartition: copies each partition's array once per message
//     (`[...current, message]`), so grouping n records costs O(n^2 / partitions);
//   - protocol/requests/produce/v3/request (used by produce v3-v7): per record, an object spread,
//     a 512-byte zero-filled Encoder, 64-bit varints through BigInt-backed Long objects, and a
//     Buffer.from() per varint; then every record buffer is copied twice more;
//   - protocol/recordBatch/record/v0/decoder: per record, two decimal strings parsed into Long
//     and printed back (offset, timestamp), and a header object rebuilt per header.
// The replacements write into (or read from) one buffer with plain number arithmetic, and fall
// back to exact 64-bit math where a value does not fit a double. A record without headers (all
// of the ingest's events) is written with no allocation at all, its key copied in JS when ASCII,
// and the batch checksum is slicing-by-8 CRC-32C (./crc32c.ts) instead of kafkajs's byte loop. Tests compare their output with
// the original modules' byte for byte (src/kafka/fastpath.test.ts).
//
// They are installed into Node's require cache before kafkajs loads them, which is why every
// module of this project takes kafkajs from ./kafkajs.ts, which installs them before its first
// load of kafkajs (unless KAFKA_FASTPATH=off). If kafkajs is not exactly 2.2.4, or was loaded
// before, nothing is replaced and kafkajs runs as is.
import { createRequire } from 'node:module';
import { crc32c } from './crc32c.js';

const require = createRequire(import.meta.url);

export const PATCHED_KAFKAJS_VERSION = '2.2.4';

interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp?: string | number;
  partition?: number;
}

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;

/** Linear replacement of producer/groupMessagesPerPartition (same result, same order). */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: {
  topic: string;
  partitionMetadata: unknown[];
  messages: Message[];
  partitioner: Partitioner;
}): Record<number, Message[]> {
  const result: Record<number, Message[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = result[partition];
    if (list === undefined) result[partition] = [message];
    else list.push(message);
  }
  return result;
}

// ---- writing ----------------------------------------------------------------------------------

/** A growable output buffer; one per produce request. */
class Out {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }
  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }
  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  int64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.pos);
    this.pos += 8;
  }
  /** Unsigned LEB128 of a non-negative integer below 2^53. */
  uvarint(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (v < 0x80000000) {
      // The usual case (lengths, deltas): 32-bit shifts instead of float division.
      while (v >= 0x80) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v >= 0x80) {
        buf[this.pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
    }
    buf[this.pos++] = v;
  }
  /** kafkajs's writeVarInt: 32-bit zigzag. */
  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  /** kafkajs's writeVarLong: 64-bit zigzag. */
  varlong(v: number): void {
    if (Number.isSafeInteger(v) && v >= 0 && v < 2 ** 52) this.uvarint(v * 2);
    else if (Number.isSafeInteger(v) && v < 0 && v > -(2 ** 52)) this.uvarint(-v * 2 - 1);
    else this.uvarlong(zigzag64(v));
  }
  uvarlong(v: bigint): void {
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    // TypedArray#set is a V8 builtin; Buffer#copy checks its arguments and then calls it.
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** An ASCII string of `length` chars, copied in JS (cheaper than a native call for ids). */
  ascii(s: string, length: number): void {
    this.ensure(length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }
  utf8(s: string, byteLength: number): void {
    this.ensure(byteLength);
    this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
  }
}

function zigzag64(v: number | bigint): bigint {
  const x = BigInt.asIntN(64, BigInt(v));
  return BigInt.asUintN(64, (x << 1n) ^ (x >> 63n));
}

function uvarintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function varintSize(v: number): number {
  return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0);
}

function varlongSize(v: number): number {
  if (Number.isSafeInteger(v) && v >= 0 && v < 2 ** 52) return uvarintSize(v * 2);
  if (Number.isSafeInteger(v) && v < 0 && v > -(2 ** 52)) return uvarintSize(-v * 2 - 1);
  let z = zigzag64(v);
  let n = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    n++;
  }
  return n;
}

/** Bytes kafkajs's sizeOfVarIntBytes counts: -1 varint for null, else length prefix + bytes. */
function bytesLength(v: Buffer | string | null | undefined): number {
  if (v == null) return -1;
  return Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v);
}

function writeVarIntBytes(out: Out, v: Buffer | string | null | undefined, len: number): void {
  if (v == null) {
    out.varint(-1);
    return;
  }
  out.varint(len);
  if (Buffer.isBuffer(v)) out.bytes(v);
  else out.utf8(String(v), len);
}

interface Header {
  key: string;
  value: Buffer | string;
}

function headerList(headers: Message['headers']): Header[] {
  const list: Header[] = [];
  if (!headers) return list;
  for (const key of Object.keys(headers)) {
    const v = headers[key];
    if (Array.isArray(v)) for (const x of v) list.push({ key, value: x });
    else list.push({ key, value: v as Buffer | string });
  }
  return list;
}

/** Keys up to this length are checked for ASCII and copied in JS; longer ones take native calls. */
const JS_KEY = 64;

/** The length of an ASCII string of at most JS_KEY chars, else -1. */
function asciiLength(s: string): number {
  const n = s.length;
  if (n > JS_KEY) return -1;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return n;
}

/** One record, exactly as kafkajs's protocol/recordBatch/record/v0 encodes it. */
function writeRecord(out: Out, m: Message, offsetDelta: number, timestampDelta: number): void {
  if (m.headers != null) {
    writeRecordWithHeaders(out, m, offsetDelta, timestampDelta);
    return;
  }
  // The ingest's records: a string or no key, a Buffer value, no headers. No allocation here.
  const key = m.key;
  let keyLen = -1;
  let keyAscii = false;
  if (typeof key === 'string') {
    keyLen = asciiLength(key);
    if (keyLen >= 0) keyAscii = true;
    else keyLen = Buffer.byteLength(key);
  } else if (key != null) keyLen = bytesLength(key);
  const valueLen = bytesLength(m.value);
  const body =
    1 +
    varlongSize(timestampDelta) +
    varintSize(offsetDelta) +
    (keyLen < 0 ? 1 : varintSize(keyLen) + keyLen) +
    (valueLen < 0 ? 1 : varintSize(valueLen) + valueLen) +
    1; // no headers: varint 0
  out.varint(body);
  out.int8(0);
  out.varlong(timestampDelta);
  out.varint(offsetDelta);
  if (keyAscii) {
    out.varint(keyLen);
    out.ascii(key as string, keyLen);
  } else writeVarIntBytes(out, key, keyLen);
  writeVarIntBytes(out, m.value, valueLen);
  out.int8(0);
}

function writeRecordWithHeaders(out: Out, m: Message, offsetDelta: number, timestampDelta: number): void {
  const keyLen = bytesLength(m.key);
  const valueLen = bytesLength(m.value);
  const headers = headerList(m.headers);
  let headersSize = varintSize(headers.length);
  const headerLens: number[] = [];
  for (const h of headers) {
    const kl = Buffer.byteLength(h.key);
    const vl = Buffer.isBuffer(h.value) ? h.value.length : Buffer.byteLength(h.value);
    headerLens.push(kl, vl);
    headersSize += varintSize(kl) + kl + varintSize(vl) + vl;
  }
  const body =
    1 +
    varlongSize(timestampDelta) +
    varintSize(offsetDelta) +
    (keyLen < 0 ? varintSize(-1) : varintSize(keyLen) + keyLen) +
    (valueLen < 0 ? varintSize(-1) : varintSize(valueLen) + valueLen) +
    headersSize;
  out.varint(body);
  out.int8(0);
  out.varlong(timestampDelta);
  out.varint(offsetDelta);
  writeVarIntBytes(out, m.key, keyLen);
  writeVarIntBytes(out, m.value, valueLen);
  out.varint(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    out.varint(headerLens[2 * i]!);
    out.utf8(h.key, headerLens[2 * i]!);
    writeVarIntBytes(out, h.value, headerLens[2 * i + 1]!);
  }
}

function hasTimestamp(m: Message): boolean {
  return m.timestamp != null;
}

type Long = { toString(): string };

interface KafkajsInternals {
  Encoder: new (size?: number) => { buf: Buffer; offset: number; readonly buffer: Buffer };
  lookupCodec: (type: number) => { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null;
  Long: { fromInt(v: number): Long };
  apiKeys: { Produce: number };
}

function internals(): KafkajsInternals {
  const base = 'kafkajs/src/';
  return {
    Encoder: require(`${base}protocol/encoder`),
    lookupCodec: require(`${base}protocol/message/compression`).lookupCodec,
    Long: require(`${base}utils/long`),
    apiKeys: require(`${base}protocol/requests/apiKeys`),
  };
}

interface PartitionData {
  partition: number;
  messages: Message[];
  firstSequence?: number;
}

interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: Long;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: PartitionData[] }[];
}

/** Replacement of protocol/requests/produce/v3/request (produce v3-v7 share it). */
export function produceRequestV3(k: KafkajsInternals = internals()) {
  const toEncoder = (buf: Buffer, length: number) => {
    const e = new k.Encoder(0);
    e.buf = buf;
    e.offset = length;
    return e;
  };
  return ({ acks, timeout, transactionalId = null, producerId = k.Long.fromInt(-1), producerEpoch = 0, compression = 0, topicData }: ProduceArgs) => ({
    apiKey: k.apiKeys.Produce,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const codec = compression === 0 ? null : k.lookupCodec(compression);
      const transactional = transactionalId !== null && transactionalId !== undefined && transactionalId !== '';
      const attributes = (compression & 0x07) | (transactional ? 16 : 0);
      const pid = BigInt(producerId.toString());
      let estimate = 256;
      for (const t of topicData) for (const p of t.partitions) for (const m of p.messages) estimate += 64 + (Buffer.isBuffer(m.value) ? m.value.length : 64);
      const out = new Out(estimate);
      const records = codec ? new Out(estimate) : out;
      if (transactionalId == null) out.int16(-1);
      else {
        const len = Buffer.byteLength(transactionalId);
        out.int16(len);
        out.utf8(transactionalId, len);
      }
      out.int16(acks);
      out.int32(timeout);
      out.int32(topicData.length);
      for (const { topic, partitions } of topicData) {
        const topicLen = Buffer.byteLength(topic);
        out.int16(topicLen);
        out.utf8(topic, topicLen);
        out.int32(partitions.length);
        for (const { partition, messages, firstSequence = 0 } of partitions) {
          const dateNow = Date.now();
          // As kafkajs does: the given timestamps, sorted as strings (its Array#sort), else now.
          // The ingest sets none, so the arrays are only made when some message has one.
          let firstTimestamp: string | number = dateNow;
          let maxTimestamp: string | number = dateNow;
          if (messages.some(hasTimestamp)) {
            const stamps = messages.map((m) => m.timestamp).filter((t) => t != null).sort();
            firstTimestamp = stamps[0]!;
            maxTimestamp = stamps[stamps.length - 1]!;
          }
          const first = Number(firstTimestamp);

          out.int32(partition);
          const sizeAt = out.pos;
          out.int32(0); // record batch size, filled in below
          const batchStart = out.pos;
          out.int64(0n); // first offset
          out.int32(0); // length, filled in below
          const lengthEnd = out.pos;
          out.int32(0); // partition leader epoch
          out.int8(2); // magic
          const crcAt = out.pos;
          out.int32(0); // crc, filled in below
          const bodyStart = out.pos;
          out.int16(attributes);
          out.int32(messages.length - 1);
          out.int64(BigInt(firstTimestamp));
          out.int64(BigInt(maxTimestamp));
          out.int64(pid);
          out.int16(producerEpoch);
          out.int32(firstSequence);
          out.int32(messages.length);
          if (codec) records.pos = 0;
          for (let i = 0; i < messages.length; i++) {
            const m = messages[i]!;
            const ts = m.timestamp ? Number(m.timestamp) : dateNow;
            writeRecord(records, m, i, ts - first);
          }
          if (codec) out.bytes(await codec.compress(toEncoder(records.buf, records.pos)));
          const end = out.pos;
          out.buf.writeUInt32BE(crc32c(out.buf, bodyStart, end), crcAt);
          out.buf.writeInt32BE(end - lengthEnd, lengthEnd - 4);
          out.buf.writeInt32BE(end - batchStart, sizeAt);
        }
      }
      return toEncoder(out.buf, out.pos);
    },
  });
}

// ---- reading ----------------------------------------------------------------------------------

interface DecoderLike {
  buffer: Buffer;
  offset: number;
}

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

/** firstOffset / firstTimestamp of a batch as numbers, parsed once per batch, or NaN if unsafe. */
const parsedBase = new WeakMap<BatchContext, { offset: number; timestamp: number }>();

function base(ctx: BatchContext): { offset: number; timestamp: number } {
  let b = parsedBase.get(ctx);
  if (b === undefined) {
    const offset = Number(ctx.firstOffset);
    const timestamp = Number(ctx.firstTimestamp);
    b = {
      offset: Number.isSafeInteger(offset) ? offset : NaN,
      timestamp: Number.isSafeInteger(timestamp) ? timestamp : NaN,
    };
    parsedBase.set(ctx, b);
  }
  return b;
}

function readUVarint(d: DecoderLike): number {
  let result = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = d.buffer[d.offset++]!;
    result += (byte & 0x7f) << shift;
    shift += 7;
  } while (byte >= 0x80);
  return result;
}

function readVarint(d: DecoderLike): number {
  const v = readUVarint(d);
  return (v >>> 1) ^ -(v & 1);
}

/** A zigzag varlong as a number when it is safe, else as a bigint. */
function readVarlong(d: DecoderLike): number | bigint {
  let result = 0;
  let mul = 1;
  let byte: number;
  let i = 0;
  const start = d.offset;
  do {
    byte = d.buffer[d.offset++]!;
    result += (byte & 0x7f) * mul;
    mul *= 128;
    i++;
  } while (byte >= 0x80 && i < 8);
  if (byte < 0x80 && result <= Number.MAX_SAFE_INTEGER) {
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }
  // Long or malformed: redo it exactly.
  d.offset = start;
  let big = 0n;
  let shift = 0n;
  do {
    if (shift > 63n) throw new Error('Invalid Long, must contain 9 bytes or less');
    byte = d.buffer[d.offset++]!;
    big += BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte >= 0x80);
  big = BigInt.asUintN(64, big);
  return BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n));
}

function readVarIntBytes(d: DecoderLike): Buffer | null {
  const len = readVarint(d);
  if (len === -1) return null;
  const b = d.buffer.subarray(d.offset, d.offset + len);
  d.offset += len;
  return b;
}

const LOG_APPEND_TIME = 1;

/** Replacement of protocol/recordBatch/record/v0/decoder (same object, same strings). */
export function decodeRecordV0(decoder: DecoderLike, batchContext: BatchContext = {} as BatchContext) {
  const { magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  const b = base(batchContext);
  const attributes = decoder.buffer.readInt8(decoder.offset++);
  const timestampDelta = readVarlong(decoder);
  let timestamp: string;
  if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
  else if (typeof timestampDelta === 'number' && !Number.isNaN(b.timestamp) && Number.isSafeInteger(b.timestamp + timestampDelta)) {
    timestamp = String(b.timestamp + timestampDelta);
  } else {
    timestamp = (BigInt(batchContext.firstTimestamp) + BigInt(timestampDelta)).toString();
  }
  const offsetDelta = readVarint(decoder);
  const offset =
    !Number.isNaN(b.offset) && Number.isSafeInteger(b.offset + offsetDelta)
      ? String(b.offset + offsetDelta)
      : (BigInt(batchContext.firstOffset) + BigInt(offsetDelta)).toString();
  const key = readVarIntBytes(decoder);
  const value = readVarIntBytes(decoder);
  const count = readVarint(decoder);
  const headers: Record<string, Buffer | null | (Buffer | null)[]> = {};
  for (let i = 0; i < count; i++) {
    const kl = readVarint(decoder);
    const hk = kl === -1 ? (null as unknown as string) : decoder.buffer.toString('utf8', decoder.offset, decoder.offset + kl);
    if (kl > 0) decoder.offset += kl;
    const hv = readVarIntBytes(decoder);
    const prior = headers[hk];
    headers[hk] = prior === undefined ? hv : Array.isArray(prior) ? prior.concat([hv]) : [prior, hv];
  }
  return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
}

// ---- installation -----------------------------------------------------------------------------

export interface FastPathStatus {
  installed: boolean;
  reason: string;
}

let status: FastPathStatus | null = null;

/** What installKafkajsFastPath decided, or null before it was called. */
export function currentFastPath(): FastPathStatus | null {
  return status;
}

/** Puts the replacements into the require cache; a no-op after the first call. */
export function installKafkajsFastPath(): FastPathStatus {
  if (status) return status;
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== PATCHED_KAFKAJS_VERSION) {
    return (status = { installed: false, reason: `kafkajs ${version} is not ${PATCHED_KAFKAJS_VERSION}` });
  }
  const targets: [string, () => unknown][] = [
    ['kafkajs/src/producer/groupMessagesPerPartition.js', () => groupMessagesPerPartition],
    ['kafkajs/src/protocol/requests/produce/v3/request.js', () => produceRequestV3()],
    ['kafkajs/src/protocol/recordBatch/record/v0/decoder.js', () => decodeRecordV0],
  ];
  const paths = targets.map(([p]) => require.resolve(p));
  // An ESM import of kafkajs puts a not-yet-loaded entry into the cache while the module graph is
  // linked; only a module that actually ran is too late to replace.
  const ran = (p: string) => require.cache[p]?.loaded === true;
  if (paths.some(ran) || ran(require.resolve('kafkajs'))) {
    return (status = { installed: false, reason: 'kafkajs was loaded before the fast path could be installed' });
  }
  targets.forEach(([, make], i) => {
    const filename = paths[i]!;
    const mod = { id: filename, filename, loaded: true, exports: make(), children: [], paths: [], path: filename } as unknown as NodeJS.Module;
    require.cache[filename] = mod;
  });
  return (status = { installed: true, reason: `kafkajs ${version}: grouping, produce encoding and record decoding replaced` });
}
