import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lz4Codec } from './compression.js';

describe('LZ4 codec for kafkajs', () => {
  it('writes LZ4 frames Kafka reads: magic, version 1, independent blocks, no checksums; and reads them back', async () => {
    for (const data of [Buffer.alloc(0), Buffer.from('a'.repeat(100)), randomBytes(300_000), Buffer.from('event '.repeat(200_000))]) {
      const frame = await lz4Codec.compress({ buffer: data });
      expect(frame.readUInt32LE(0)).toBe(0x184d2204);
      const flg = frame[4]!;
      expect(flg >> 6).toBe(1); // version
      expect((flg >> 5) & 1).toBe(1); // block independence (Kafka refuses dependent blocks)
      expect((flg >> 4) & 1).toBe(0); // no block checksum
      expect((flg >> 2) & 1).toBe(0); // no content checksum
      expect((frame[5]! >> 4) & 7).toBeGreaterThanOrEqual(4); // block size 64 KB..4 MB
      expect((await lz4Codec.decompress(frame)).equals(data)).toBe(true);
    }
  });
});
