import { describe, expect, it } from 'vitest';
import { keep } from './keep.js';

describe('keep', () => {
  it('holds at most max entries, dropping the oldest first, and returns the value put', () => {
    const m = new Map<string, number>();
    for (let i = 0; i < 5; i++) expect(keep(m, `k${i}`, i, 3)).toBe(i);
    expect([...m.entries()]).toEqual([['k2', 2], ['k3', 3], ['k4', 4]]);
  });
});
