import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PutOrder } from './putorder.js';

/** Visits in the order PutOrder gives, as [part, record]. */
function visit(o: PutOrder): [number, number][] {
  const out: [number, number][] = [];
  o.forEach((part, record) => out.push([part, record]));
  return out;
}

describe('PutOrder', () => {
  it('visits keys that differ in their first 12 bytes in byte order, whatever order they came in', () => {
    const o = new PutOrder();
    // Random 16-byte keys in one slab, several parts; more than the initial capacity.
    const slab = new Uint8Array(40_000 * 16);
    for (let i = 0; i < 40_000; i++) slab.set(createHash('sha256').update(String(i)).digest().subarray(0, 16), i * 16);
    const keyOf = (part: number, record: number) => Buffer.from(slab.subarray((part * 10_000 + record) * 16, (part * 10_000 + record + 1) * 16));
    for (let part = 0; part < 4; part++) for (let r = 0; r < 10_000; r++) o.add(part, r, slab, (part * 10_000 + r) * 16, (part * 10_000 + r + 1) * 16);
    const seen = visit(o);
    expect(seen).toHaveLength(40_000);
    expect(new Set(seen.map(([p, r]) => p * 10_000 + r)).size).toBe(40_000);
    const keys = seen.map(([p, r]) => keyOf(p, r).toString('hex'));
    const sorted = [...keys].sort();
    expect(keys.join()).toBe(sorted.join());
  });

  it('keeps entries of one key in the order they were added (the later put wins, as in Kafka order)', () => {
    const o = new PutOrder();
    const a = Buffer.from('\x05alice\x00\x00\x01\x02\x03\x04id-1', 'latin1');
    const b = Buffer.from('\x03bob\x00\x00\x01\x02\x03\x04id-1', 'latin1');
    o.add(0, 0, a, 0, a.length);
    o.add(0, 1, b, 0, b.length);
    o.add(1, 0, a, 0, a.length);
    o.add(0, 2, a, 0, a.length);
    // Keys of one user and a short key (missing bytes beyond its end) too.
    const short = Buffer.from('\x03bob\x00\x00\x01', 'latin1');
    o.add(2, 5, short, 0, short.length);
    expect(visit(o)).toEqual([
      [2, 5],
      [0, 1],
      [0, 0],
      [1, 0],
      [0, 2],
    ]);
  });

  it('starts empty again after reset()', () => {
    const o = new PutOrder();
    const k = Buffer.from('\x01a\x00\x00\x00\x00\x00\x01x', 'latin1');
    o.add(0, 0, k, 0, k.length);
    o.reset();
    expect(o.size).toBe(0);
    expect(visit(o)).toEqual([]);
  });
});
