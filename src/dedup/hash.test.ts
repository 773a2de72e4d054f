import { describe, expect, it } from 'vitest';
import { hashBytes, hashPair } from './hash.js';

const h = (a: string, b: string): string => {
  const out = new Uint32Array(2);
  hashPair(a, b, out, 0);
  return `${out[0]}:${out[1]}`;
};

describe('identity hash', () => {
  it('is a pure function of (user_key, event_id)', () => {
    expect(h('user-1', 'e-1')).toBe(h('user-1', 'e-1'));
  });

  it('tells apart pairs whose concatenation is the same', () => {
    expect(h('ab', 'c')).not.toBe(h('a', 'bc'));
    expect(h('', 'x')).not.toBe(h('x', ''));
  });

  it('gives 200 000 similar identities 200 000 distinct hashes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(h(`user-${i % 1000}`, `evt-${i}`));
    expect(seen.size).toBe(200_000);
  });

  it('spreads the low half evenly over buckets (it is the window index position)', () => {
    const buckets = new Uint32Array(1024);
    const out = new Uint32Array(2);
    for (let i = 0; i < 102_400; i++) {
      hashPair('u', `id-${i}`, out, 0);
      buckets[out[1]! & 1023]!++;
    }
    expect(Math.max(...buckets)).toBeLessThan(160); // mean 100
    expect(Math.min(...buckets)).toBeGreaterThan(50);
  });
});

describe('identity hash of bytes (the stream processor\'s)', () => {
  const hb = (seed: number, id: string, pad = 0): string => {
    const out = new Uint32Array(2);
    const buf = Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(id), Buffer.alloc(3, 0x42)]);
    hashBytes(seed, buf, pad, pad + Buffer.byteLength(id), out, 0);
    return `${out[0]}:${out[1]}`;
  };

  it('is a pure function of the seed and the bytes in range, wherever they sit in the buffer', () => {
    expect(hb(7, '4b1e0c2a-9f7e-4a51-8f43-0f6c2a7d9e11')).toBe(hb(7, '4b1e0c2a-9f7e-4a51-8f43-0f6c2a7d9e11', 13));
    expect(hb(7, 'e-1')).not.toBe(hb(8, 'e-1'));
    // Tails of 0-3 bytes and ids that differ only there, or only by trailing zero bytes.
    expect(new Set(['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'a\u0000', 'ab\u0000\u0000'].map((id) => hb(1, id))).size).toBe(8);
  });

  it('gives 200 000 similar identities 200 000 distinct hashes, and spreads the low half', () => {
    const seen = new Set<string>();
    const buckets = new Uint32Array(1024);
    for (let i = 0; i < 200_000; i++) {
      const v = hb(i % 1000, `evt-${i}`);
      seen.add(v);
      buckets[Number(v.split(':')[1]) & 1023]!++;
    }
    expect(seen.size).toBe(200_000);
    expect(Math.max(...buckets)).toBeLessThan(280); // mean 195
    expect(Math.min(...buckets)).toBeGreaterThan(110);
  });
});
