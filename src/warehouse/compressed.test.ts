import { uncompressSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { rng } from '../../test/support/rng.js';
import { cityHash128 } from './cityhash.js';
import { nativeCompressed } from './compressed.js';

const MiB = 1 << 20;

interface Block {
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  checksum: [bigint, bigint];
  hashOfBlock: [bigint, bigint];
}

// Reads the framing as ClickHouse's clients do: 16-byte checksum, then method, compressed size
// (with the 9 header bytes) and uncompressed size, then the raw LZ4 block, given back to lz4-napi
// with the size prefix its uncompressSync expects.
function decode(framed: Buffer): { blocks: Block[]; data: Buffer } {
  const blocks: Block[] = [];
  const parts: Buffer[] = [];
  let at = 0;
  while (at < framed.length) {
    const compressedSize = framed.readUInt32LE(at + 17);
    const uncompressedSize = framed.readUInt32LE(at + 21);
    const hashed = framed.subarray(at + 16, at + 16 + compressedSize);
    expect(hashed.length).toBe(compressedSize);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(uncompressedSize);
    const data = uncompressSync(Buffer.concat([prefix, hashed.subarray(9)]));
    expect(data.length).toBe(uncompressedSize);
    parts.push(data);
    blocks.push({
      method: framed[at + 16]!,
      compressedSize,
      uncompressedSize,
      checksum: [framed.readBigUInt64LE(at), framed.readBigUInt64LE(at + 8)],
      hashOfBlock: cityHash128(hashed),
    });
    at += 16 + compressedSize;
  }
  return { blocks, data: Buffer.concat(parts) };
}

// Result-like text with random runs: LZ4 finds matches, but not only matches.
function body(size: number, seed: number): Buffer {
  const random = rng(seed);
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; ) {
    const text = `2024-05-${1 + Math.floor(random() * 28)}\tpage_view\t${Math.floor(random() * 1e9)}\n`;
    at += out.write(text, at);
  }
  return out;
}

describe('nativeCompressed (ClickHouse compress=1 framing)', () => {
  it('frames an empty body as no blocks', () => {
    expect(nativeCompressed(new Uint8Array(0)).length).toBe(0);
  });

  it('frames a small body as one LZ4 block whose checksum is the CityHash128 of the block', () => {
    const input = Buffer.from('day\tevent\tn\n2024-05-01\tsignup\t42\n');
    const { blocks, data } = decode(nativeCompressed(input));
    expect(data).toEqual(input);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.method).toBe(0x82);
    expect(blocks[0]!.uncompressedSize).toBe(input.length);
    expect(blocks[0]!.checksum).toEqual(blocks[0]!.hashOfBlock);
  });

  it('cuts a body over 1 MiB into 1 MiB blocks, each with its checksum', () => {
    const input = body(2 * MiB + 12_345, 1);
    const { blocks, data } = decode(nativeCompressed(input));
    expect(data.equals(input)).toBe(true);
    expect(blocks.map((b) => b.uncompressedSize)).toEqual([MiB, MiB, 12_345]);
    for (const b of blocks) {
      expect(b.method).toBe(0x82);
      expect(b.compressedSize).toBeLessThan(b.uncompressedSize); // LZ4 did compress
      expect(b.checksum).toEqual(b.hashOfBlock);
    }
  });

  it('ends a body of exactly 2 MiB after two blocks, with no empty third', () => {
    const input = body(2 * MiB, 2);
    const { blocks, data } = decode(nativeCompressed(input));
    expect(data.equals(input)).toBe(true);
    expect(blocks.map((b) => b.uncompressedSize)).toEqual([MiB, MiB]);
  });

  it('frames only the bytes of a view into a larger buffer', () => {
    const whole = body(4096, 3);
    const view = whole.subarray(1000, 3000);
    const { blocks, data } = decode(nativeCompressed(new Uint8Array(view.buffer, view.byteOffset, view.length)));
    expect(data.equals(view)).toBe(true);
    expect(blocks[0]!.checksum).toEqual(blocks[0]!.hashOfBlock);
  });
});
