// Short UTF-8 strings decoded once and handed out again: a stream processor reads the same few
// sources, event names and property values in every record, and decoding each one anew cost a
// native call and a new string per field per event (and then a fresh hash in every Map it was
// looked up in). An interned string is the same object each time, with its hash cached.
//
// A fixed table (direct-mapped by a hash of the bytes): a miss decodes and takes the slot, so
// memory is bounded whatever the input, and a value that never repeats costs one hash more.
// intern.test.ts checks it returns what toString('utf8') does, for any bytes.

/** Longest string (bytes) kept; longer ones are decoded every time. */
const MAX_LEN = 64;
const SLOTS = 4096;

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
/** Buffer#utf8Slice: what toString('utf8', ...) calls after checking its arguments (those checks cost more than the slice for short strings). */
export const utf8: (buf: Uint8Array, start: number, end: number) => string = utf8Slice
  ? (buf, start, end) => utf8Slice.call(buf, start, end)
  : (buf, start, end) => Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', start, end);

export class Interner {
  /** The bytes of each slot's string, MAX_LEN apart. */
  private readonly bytes = new Uint8Array(SLOTS * MAX_LEN);
  private readonly lens = new Int32Array(SLOTS).fill(-1);
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');

  /** The string of bytes [start, end) of `buf` (as toString('utf8', start, end) gives it). */
  get(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    if (len > MAX_LEN || len < 0) return utf8(buf, start, end);
    // FNV-1a over the bytes.
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
    const at = slot * MAX_LEN;
    const bytes = this.bytes;
    if (this.lens[slot] === len) {
      let j = 0;
      while (j < len && bytes[at + j] === buf[start + j]) j++;
      if (j === len) return this.strings[slot]!;
    }
    const s = utf8(buf, start, end);
    for (let j = 0; j < len; j++) bytes[at + j] = buf[start + j]!;
    this.lens[slot] = len;
    this.strings[slot] = s;
    return s;
  }
}
