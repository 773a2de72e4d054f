// Event records on the wire: the Confluent wire format, so standard tools can read the topic.
//
//   byte 0      magic byte, always 0
//   bytes 1-4   schema id, big-endian unsigned (here: the schema's version number)
//   bytes 5-    the record, Avro binary encoding of that schema version
//
// encodeInto() writes straight into a caller's buffer so the ingest hot path can pack many
// records into one slab without an allocation per event, with the writer specialised to the
// newest schema (./writer.ts: avsc's bytes at a fraction of its CPU); decoding stays avsc's.
import type avro from 'avsc';
import { TrackhouseError } from '../common/errors.js';
import { loadSchemaVersions, type SchemaVersion } from './registry.js';
import type { EventRecord } from './types.js';
import { compileEventWriter, type RecordWriter } from './writer.js';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export class DecodeError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('RECORD_UNDECODABLE', message, { cause });
  }
}

export class EventCodec {
  /** Schema id written into every new record. */
  readonly writerId: number;
  readonly versions: readonly SchemaVersion[];
  private readonly writer: avro.Type;
  /** Writes the newest version's record body: the specialised writer, or avsc's for a layout it does not know. */
  private readonly write: RecordWriter;
  /** True when the specialised writer is in use (a unit test keeps it so for the newest schema). */
  readonly specialised: boolean;
  /** Grown as needed by encode(); the hot path uses encodeInto with the caller's buffer. */
  private scratch = Buffer.allocUnsafe(4096);
  /** schema id -> how to read it: the newest type, with a resolver for older writers. */
  private readonly readers = new Map<number, avro.Resolver | null>();

  constructor(versions: readonly SchemaVersion[] = loadSchemaVersions('event')) {
    this.versions = versions;
    const latest = versions[versions.length - 1]!;
    this.writer = latest.type;
    this.writerId = latest.version;
    const fast = compileEventWriter(latest.type);
    this.specialised = fast !== null;
    this.write = fast ?? ((rec, buf, pos) => latest.type.encode(rec, buf, pos));
    for (const v of versions) {
      // createResolver throws here, at start, if a version cannot be read as the latest one.
      const resolver = v.version === latest.version ? null : latest.type.createResolver(v.type);
      this.readers.set(v.version, resolver);
    }
  }

  /**
   * Writes header + record at `offset`. Returns the offset after the record, or a negative
   * number when `buf` is too small (nothing useful is written then).
   */
  encodeInto(record: EventRecord, buf: Buffer, offset: number): number {
    if (buf.length - offset < HEADER_BYTES) return -1;
    buf[offset] = MAGIC_BYTE;
    buf.writeUInt32BE(this.writerId, offset + 1);
    const end = this.write(record, buf, offset + HEADER_BYTES);
    return end > 0 ? end : -1;
  }

  /** The framed record in a Buffer of its own. */
  encode(record: EventRecord): Buffer {
    let end = this.encodeInto(record, this.scratch, 0);
    while (end < 0) {
      this.scratch = Buffer.allocUnsafe(this.scratch.length * 2);
      end = this.encodeInto(record, this.scratch, 0);
    }
    return Buffer.from(this.scratch.subarray(0, end));
  }

  /** Decodes a framed record written with any known version into the latest shape. */
  decode(buf: Uint8Array): EventRecord {
    if (buf.length < HEADER_BYTES) throw new DecodeError(`record is ${buf.length} bytes, shorter than the 5-byte header`);
    if (buf[0] !== MAGIC_BYTE) throw new DecodeError(`record starts with byte ${buf[0]}, not the magic byte 0`);
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const id = b.readUInt32BE(1);
    const resolver = this.readers.get(id);
    if (resolver === undefined) throw new DecodeError(`unknown schema id ${id} (known: ${[...this.readers.keys()].join(', ')})`);
    let value: unknown;
    let offset: number;
    try {
      ({ value, offset } = this.writer.decode(b, HEADER_BYTES, resolver ?? undefined));
    } catch (err) {
      throw new DecodeError(`record with schema id ${id} is not valid Avro: ${(err as Error).message}`, err);
    }
    if (offset < 0) throw new DecodeError(`record with schema id ${id} is truncated`);
    if (offset !== b.length) throw new DecodeError(`record with schema id ${id} has ${b.length - offset} trailing bytes`);
    return value as EventRecord;
  }
}
