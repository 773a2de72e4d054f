import fc from 'fast-check';
import LZString from 'lz-string';
import { describe, expect, it } from 'vitest';
import { decompressLz64, Lz64Error } from './lz64.js';

describe('lz64 (lz-string base64) bodies', () => {
  it('decodes what lz-string compressToBase64 makes, exactly as the library does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1000 }), (text) => {
        const packed = LZString.compressToBase64(text);
        if (text === '') return; // the library makes '' and reads '' as null: no body to decode
        expect(decompressLz64(packed, 1e9)).toBe(text);
        expect(decompressLz64(packed, 1e9)).toBe(LZString.decompressFromBase64(packed));
      }),
      { numRuns: 100 },
    );
  }, 60_000); // a hang guard on a shared machine, not a speed check

  it('decodes a posthog-js style JSON batch', () => {
    const json = JSON.stringify([{ event: '$pageview', properties: { distinct_id: 'u1', token: 'k', $current_url: 'https://x.example/a?b=c' } }]);
    expect(JSON.parse(decompressLz64(LZString.compressToBase64(json), 1e6))).toEqual(JSON.parse(json));
  });

  it('stops at the limit: a small body that expands past it is refused before it is built', () => {
    const big = 'a'.repeat(300_000);
    const packed = LZString.compressToBase64(big);
    expect(packed.length).toBeLessThan(10_000);
    expect(() => decompressLz64(packed, 200_000)).toThrow(RangeError);
    expect(decompressLz64(packed, 300_000)).toHaveLength(300_000);
  }, 60_000);

  it('refuses text that is not lz64', () => {
    expect(() => decompressLz64('', 100)).toThrow(Lz64Error);
    expect(() => decompressLz64('{"event":"x"}', 100)).toThrow(Lz64Error);
    expect(() => decompressLz64(LZString.compressToBase64('hello world').slice(0, 4), 100)).toThrow(Lz64Error);
  });
});
