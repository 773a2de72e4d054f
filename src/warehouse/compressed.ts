// ClickHouse's native compressed framing, the HTTP body it sends for `compress=1` (as its JDBC
// driver asks): blocks of at most 1 MiB of the body (max_compress_block_size), each
//   16 bytes  CityHash128 (v1.0.2) of the next 9 + n bytes, low64 then high64, little-endian
//    1 byte   method, 0x82 = LZ4
//    4 bytes  9 + n, little-endian
//    4 bytes  the block's uncompressed size, little-endian
//    n bytes  the raw LZ4 block
// An empty body is no blocks at all, as ClickHouse's CompressedWriteBuffer writes it.
import { compressSync } from 'lz4-napi';
import { cityHash128 } from './cityhash.js';

const BLOCK_SIZE = 1 << 20;
const METHOD_LZ4 = 0x82;
const CHECKSUM_BYTES = 16;
const HEADER_BYTES = 9;
// lz4-napi's compressSync gives lz4_flex's size-prepended block: the uncompressed size as 4 bytes
// little-endian, then the raw block. ClickHouse's header carries the size itself.
const SIZE_PREFIX_BYTES = 4;

export function nativeCompressed(body: Uint8Array): Buffer {
  const blocks: Buffer[] = [];
  let total = 0;
  for (let start = 0; start < body.length; start += BLOCK_SIZE) {
    const size = Math.min(BLOCK_SIZE, body.length - start);
    const sized = compressSync(Buffer.from(body.buffer, body.byteOffset + start, size));
    // A change of lz4-napi's output would otherwise frame garbage the client rejects.
    if (sized.length < SIZE_PREFIX_BYTES || sized.readUInt32LE(0) !== size) {
      throw new Error('lz4-napi compressSync did not return a size-prepended LZ4 block');
    }
    blocks.push(sized);
    total += CHECKSUM_BYTES + HEADER_BYTES + sized.length - SIZE_PREFIX_BYTES;
  }
  // One allocation for the whole body: each compressed block is copied once, into its frame.
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const sized of blocks) {
    const hashed = HEADER_BYTES + sized.length - SIZE_PREFIX_BYTES;
    const header = at + CHECKSUM_BYTES;
    out[header] = METHOD_LZ4;
    out.writeUInt32LE(hashed, header + 1);
    out.writeUInt32LE(sized.readUInt32LE(0), header + 5); // checked above: the block's size
    sized.copy(out, header + HEADER_BYTES, SIZE_PREFIX_BYTES);
    const [low, high] = cityHash128(out.subarray(header, header + hashed));
    out.writeBigUInt64LE(low, at);
    out.writeBigUInt64LE(high, at + 8);
    at = header + hashed;
  }
  return out;
}
