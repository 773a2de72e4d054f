// Encodes event records straight into a large shared buffer (a slab) and hands out views of it,
// so accepting an event costs no Buffer allocation of its own. A slab is dropped (left to the GC)
// once full; the records in it stay valid as long as a produce request still holds their views.
import type { EventCodec, EventRecord } from '../schema/index.js';

export const SLAB_BYTES = 1 << 20;
/** Below this much room left, start a new slab rather than try and fail. */
const MIN_ROOM = 4096;

export class RecordSlab {
  private buf: Buffer;
  private offset = 0;

  constructor(
    private readonly codec: EventCodec,
    private readonly size: number = SLAB_BYTES,
  ) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** The encoded record (Confluent framing), or null when it is larger than `maxBytes`. */
  encode(record: EventRecord, maxBytes: number): Buffer | null {
    if (this.size - this.offset < MIN_ROOM) this.fresh();
    let end = this.codec.encodeInto(record, this.buf, this.offset);
    if (end < 0) {
      this.fresh();
      end = this.codec.encodeInto(record, this.buf, 0);
      if (end < 0) return null; // larger than a whole slab
    }
    if (end - this.offset > maxBytes) return null; // the space is reused by the next record
    const view = this.buf.subarray(this.offset, end);
    this.offset = end;
    return view;
  }

  private fresh(): void {
    this.buf = Buffer.allocUnsafeSlow(this.size);
    this.offset = 0;
  }
}
