import { describe, expect, it } from 'vitest';
import { hashPair } from './hash.js';

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
