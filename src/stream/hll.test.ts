import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashString, Hll, murmur3 } from './hll.js';

const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => `user-${from + i}`);

function sketchOf(keys: readonly string[]): Hll {
  const h = new Hll();
  for (const k of keys) h.add(hashString(k));
  return h;
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 vectors', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(murmur3(bytes('hello'), 0, 5, 0)).toBe(0x248bfa47);
    expect(murmur3(bytes('hello, world'), 0, 12, 0)).toBe(0x149bbb7f);
    expect(murmur3(bytes(''), 0, 0, 1)).toBe(0x514e28b7);
  }, 60_000);
});

describe('Hll', () => {
  it('counts up to 256 users exactly', () => {
    for (const n of [0, 1, 2, 10, 64, 65, 200, 256]) expect(sketchOf(users(0, n)).estimate()).toBe(n);
    expect(sketchOf(users(0, 256)).exact).toBe(true);
    expect(sketchOf(users(0, 257)).exact).toBe(false);
  }, 60_000);

  it('stays within 4 standard errors (6.5 %) from 257 to 300k distinct users', () => {
    for (const n of [257, 1_000, 10_000, 100_000, 300_000]) {
      const est = sketchOf(users(7, n)).estimate();
      expect(Math.abs(est - n) / n).toBeLessThan(0.065);
    }
  }, 60_000);

  it('has a root-mean-square error near the stated 1.6 % over many sets of 5k users', () => {
    let sq = 0;
    const runs = 60;
    for (let r = 0; r < runs; r++) {
      const n = 5_000;
      const est = sketchOf(users(r * 1_000_000, n)).estimate();
      sq += ((est - n) / n) ** 2;
    }
    expect(Math.sqrt(sq / runs)).toBeLessThan(0.025);
  }, 60_000);

  it('counts a user added twice once, and merges as a union', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 300 }), (a, b) => {
        const ha = sketchOf(a.map((i) => `u${i}`));
        const hb = sketchOf(b.map((i) => `u${i}`));
        const union = sketchOf([...a, ...b].map((i) => `u${i}`));
        ha.merge(hb);
        expect(ha.estimate()).toBe(union.estimate());
      }),
    );
  }, 60_000);

  it('merges two dense sketches into exactly the registers of the union, and addAll adds as add does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 257, max: 3_000 }), fc.integer({ min: 257, max: 3_000 }), fc.integer({ min: 0, max: 1_000_000 }), (na, nb, at) => {
        const a = users(at, na);
        const b = users(at + Math.floor(na / 2), nb);
        const ha = sketchOf(a);
        const hb = sketchOf(b);
        const union = sketchOf([...a, ...b]);
        ha.merge(hb);
        expect(Buffer.from(ha.toBytes())).toEqual(Buffer.from(union.toBytes()));
        const all = new Hll();
        all.addAll([...a, ...b].map(hashString));
        expect(Buffer.from(all.toBytes())).toEqual(Buffer.from(union.toBytes()));
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  it('survives a round trip through its bytes, sparse and dense', () => {
    for (const n of [0, 3, 256, 500]) {
      const h = sketchOf(users(1, n));
      const back = Hll.fromBytes(h.toBytes());
      expect(back.estimate()).toBe(h.estimate());
      expect(Buffer.from(back.toBytes())).toEqual(Buffer.from(h.toBytes()));
    }
    expect(sketchOf(users(1, 10)).toBytes().length).toBe(1 + 4 * 10);
    expect(sketchOf(users(1, 500)).toBytes().length).toBe(1 + 4096);
  }, 60_000);
});
