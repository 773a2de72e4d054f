// Reader for ClickHouse's RowBinary output, limited to the column types the query API selects:
// String (LEB128 length, then the bytes; LowCardinality(String) is sent the same way), Int64
// (DateTime64(3) is its milliseconds), UInt8, UInt16 (Date: days since 1970) and UInt64, all
// little-endian.
//
// Why RowBinary: no text escaping to undo, numbers and times arrive as numbers, and binary
// framing is safe whatever bytes a stored JSON text holds (a newline in a property would break a
// line-based format). Same bytes from chDB and from a ClickHouse server.
import { TrackhouseError } from '../common/errors.js';

/** A result that is not the RowBinary the statement asked for: a bug or a broken connection, never bad input. */
export class RowBinaryError extends TrackhouseError {
  constructor(message: string) {
    super('CLICKHOUSE_RESULT_INVALID', `RowBinary: ${message}`);
  }
}

export class RowBinaryReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The next String column as a view of the result buffer (no copy). */
  bytes(): Buffer {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.buf.length) throw new RowBinaryError('string runs past the end of the result');
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  string(): string {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.buf.length) throw new RowBinaryError('string runs past the end of the result');
    this.pos = end;
    return this.buf.toString('utf8', start, end);
  }

  uint8(): number {
    if (this.pos + 1 > this.buf.length) throw new RowBinaryError('UInt8 runs past the end of the result');
    return this.buf[this.pos++]!;
  }

  uint16(): number {
    if (this.pos + 2 > this.buf.length) throw new RowBinaryError('UInt16 runs past the end of the result');
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  uint64(): number {
    if (this.pos + 8 > this.buf.length) throw new RowBinaryError('UInt64 runs past the end of the result');
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }

  int64(): number {
    if (this.pos + 8 > this.buf.length) throw new RowBinaryError('Int64 runs past the end of the result');
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }

  private varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new RowBinaryError('length runs past the end of the result');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 49) throw new RowBinaryError('length too large');
    }
  }
}
