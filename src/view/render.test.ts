import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iso } from './render.js';

describe('iso', () => {
  it('writes what Date.toISOString writes, for every time an event can have', () => {
    const min = Date.UTC(1900, 0, 1);
    const max = Date.UTC(2300, 0, 1) - 1;
    fc.assert(fc.property(fc.integer({ min, max }), (ms) => iso(ms) === new Date(ms).toISOString()), { numRuns: 20_000 });
    for (const ms of [min, max, 0, -1, 951_782_400_000, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2100, 2, 1)]) {
      expect(iso(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
