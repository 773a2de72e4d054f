// Reader for ClickHouse's RowBinary output, limited to the two column types the query API selects:
// String (LEB128 length, then the bytes) and Int64 (8 bytes, little-endian).
//
// Why RowBinary: each event's JSON is rendered by ClickHouse, so the server only slices it out
// of the result and splices it into the reply, without decoding to JS strings or JSON round
// trips, and binary framing is safe whatever bytes a JSON text holds (a newline in a stored
// property would break a line-based text format).

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
    if (end > this.buf.length) throw new Error('RowBinary: string runs past the end of the result');
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  string(): string {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.buf.length) throw new Error('RowBinary: string runs past the end of the result');
    this.pos = end;
    return this.buf.toString('utf8', start, end);
  }

  int64(): number {
    if (this.pos + 8 > this.buf.length) throw new Error('RowBinary: Int64 runs past the end of the result');
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }

  private varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('RowBinary: length runs past the end of the result');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 49) throw new Error('RowBinary: length too large');
    }
  }
}
