import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Interner } from './intern.js';

describe('Interner', () => {
  it('returns what toString("utf8") gives for any bytes, and the same object for the same bytes', () => {
    const interner = new Interner();
    // Few distinct short values (hits, and slot collisions), plus random bytes of any length.
    const bytes = fc.oneof(
      fc.constantFrom(...['web', 'ios', 'bew', 'Order Completed', 'ü', '注文', '', 'z'.repeat(64), 'z'.repeat(65)].map((s) => new Uint8Array(Buffer.from(s)))),
      fc.uint8Array({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(fc.array(bytes, { minLength: 1, maxLength: 50 }), fc.nat(7), (list, pad) => {
        for (const b of list) {
          const buf = Buffer.concat([Buffer.alloc(pad, 0x41), b, Buffer.alloc(3, 0x42)]);
          const s = interner.get(buf, pad, pad + b.length);
          expect(s).toBe(Buffer.from(b).toString('utf8'));
        }
      }),
      { numRuns: 2000 },
    );
    const a = interner.get(Buffer.from('xxwebxx'), 2, 5);
    expect(interner.get(Buffer.from('web'), 0, 3)).toBe(a);
  });
});
