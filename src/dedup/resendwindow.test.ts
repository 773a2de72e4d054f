import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResendWindow } from './resendwindow.js';

/** The window as the docs state it, kept in plain arrays: the reference the typed version must match. */
class Model {
  private entries: { key: string; sec: number }[] = [];
  private newest = 0;
  constructor(
    private readonly capacity: number,
    private readonly windowSec: number,
  ) {}
  seen(key: string, ms: number): boolean {
    if (this.capacity === 0) return false;
    if (this.entries.some((e) => e.key === key)) return true;
    const sec = Math.max(0, Math.floor(ms / 1000));
    if (sec > this.newest) {
      this.newest = sec;
      if (this.windowSec > 0) {
        while (this.entries.length > 0 && this.entries[0]!.sec < sec - this.windowSec) this.entries.shift();
      }
    }
    if (this.entries.length === this.capacity) this.entries.shift();
    this.entries.push({ key, sec });
    return false;
  }
}

describe('resend window', () => {
  it('reports an identity seen again, and remembers new ones', () => {
    const w = new ResendWindow(10, 0);
    expect(w.seen(1, 2, 1000)).toBe(false);
    expect(w.seen(1, 3, 1000)).toBe(false);
    expect(w.seen(1, 2, 5000)).toBe(true);
    expect(w.size).toBe(2);
  });

  it('forgets the oldest identity once it holds `capacity` of them', () => {
    const w = new ResendWindow(3, 0);
    for (let i = 1; i <= 4; i++) expect(w.seen(0, i, 0)).toBe(false);
    expect(w.has(0, 1)).toBe(false);
    expect(w.has(0, 2) && w.has(0, 3) && w.has(0, 4)).toBe(true);
  });

  it('forgets identities that arrived longer than the time window before the newest one', () => {
    const w = new ResendWindow(100, 60_000);
    w.seen(0, 1, 1_000_000);
    w.seen(0, 2, 1_030_000);
    w.seen(0, 3, 1_070_000); // 70 s after the first: the first is out
    expect(w.has(0, 1)).toBe(false);
    expect(w.has(0, 2)).toBe(true);
    expect(w.seen(0, 2, 1_070_001)).toBe(true);
  });

  it('is off with a capacity of 0', () => {
    const w = new ResendWindow(0, 60_000);
    expect(w.seen(0, 1, 1)).toBe(false);
    expect(w.seen(0, 1, 1)).toBe(false);
  });

  it('agrees with the plain reference on any sequence, through growth and eviction', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 3000 })),
        fc.integer({ min: 0, max: 50 }),
        // Few distinct keys, colliding low halves (lo & mask) on purpose, to exercise probe chains.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 120_000 })), {
          minLength: 200,
          maxLength: 3000,
        }),
        (capacity, windowSec, ops) => {
          const w = new ResendWindow(capacity, windowSec * 1000);
          const m = new Model(capacity, windowSec);
          let t = 1_700_000_000_000;
          for (const [a, b, dt] of ops) {
            t += dt - 20_000; // mostly forward, sometimes back a little, as arrival times are
            const hi = a;
            const lo = b * 1024 + a;
            if (w.seen(hi, lo, t) !== m.seen(`${hi}/${lo}`, t)) return false;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a window restored from its snapshot answers every later identity as the original does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 60_000 })), {
          minLength: 100,
          maxLength: 1500,
        }),
        fc.integer({ min: 0, max: 1499 }),
        (capacity, windowSec, ops, cut) => {
          const w = new ResendWindow(capacity, windowSec * 1000);
          let restored: ResendWindow | null = null;
          let t = 1_700_000_000_000;
          for (let i = 0; i < ops.length; i++) {
            if (i === cut) restored = ResendWindow.restore(w.snapshot(), capacity, windowSec * 1000);
            const [a, b, dt] = ops[i]!;
            t += dt - 10_000;
            const lo = b * 1024 + a;
            const want = w.seen(a, lo, t);
            if (restored !== null && restored.seen(a, lo, t) !== want) return false;
          }
          return restored === null || restored.size === w.size;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a million identities in about 20 bytes each', () => {
    const w = new ResendWindow(1_000_000, 0);
    for (let i = 0; i < 1_000_000; i++) w.seen(i * 2654435761, i, 0);
    expect(w.size).toBe(1_000_000);
    expect(w.bytes).toBeLessThanOrEqual(1_000_000 * 12 + 2 ** 21 * 4);
    expect(w.has(2654435761 * 5, 5)).toBe(true);
  });
});
