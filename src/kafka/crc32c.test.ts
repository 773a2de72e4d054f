import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

const require = createRequire(import.meta.url);
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buf: Buffer) => number;

describe('crc32c', () => {
  it('matches the published check value of CRC-32C ("123456789" -> 0xe3069283)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('equals kafkajs\'s crc32C on random data of every length around the 8-byte steps', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const buf = Buffer.from(bytes);
        expect(crc32c(buf)).toBe(kafkajsCrc32C(buf));
      }),
      { numRuns: 2000 },
    );
  });

  it('checksums a range of a buffer as the same bytes alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = a % buf.length;
        const end = start + (b % (buf.length - start + 1));
        expect(crc32c(buf, start, end)).toBe(kafkajsCrc32C(Buffer.from(buf.subarray(start, end))));
      }),
    );
  });
});
