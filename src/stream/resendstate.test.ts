import { describe, expect, it } from 'vitest';
import { ResendWindow } from '../dedup/resendwindow.js';
import { readSavedWindow, rebuildFrom, savedWindow, SAVED_WINDOW_VERSION } from './resendstate.js';

describe('saved resend windows', () => {
  it('reads back a saved window that restores the same identities', () => {
    const w = new ResendWindow(100, 60_000);
    w.seen(1, 2, 1_000_000);
    w.seen(3, 4, 1_001_000);
    const read = readSavedWindow(savedWindow(42, w.snapshot()));
    expect(read?.offset).toBe(42);
    const back = ResendWindow.restore(read!.bytes, 100, 60_000);
    expect([back.size, back.has(1, 2), back.has(3, 4), back.has(5, 6)]).toEqual([2, true, true, false]);
  });

  it('reads the bytes of version 1 as stored: count, newest second, then hi, lo, second per identity', () => {
    // A fixture of the stored form: one identity (hi 7, lo 9, second 100), offset 5.
    const bytes = Uint8Array.from([1, 0, 0, 0, 100, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 100, 0, 0, 0]);
    const read = readSavedWindow({ v: 1, o: 5, w: bytes });
    expect(read?.offset).toBe(5);
    expect(ResendWindow.restore(read!.bytes, 10, 0).has(7, 9)).toBe(true);
  });

  it('refuses another version, a torn snapshot, a bad offset or anything else (the window is rebuilt then)', () => {
    const good = new ResendWindow(10, 0).snapshot();
    expect(readSavedWindow({ v: SAVED_WINDOW_VERSION + 1, o: 1, w: good })).toBeNull();
    expect(readSavedWindow({ v: 1, o: 1, w: Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]) })).toBeNull();
    expect(readSavedWindow({ v: 1, o: -1, w: good })).toBeNull();
    expect(readSavedWindow({ v: 1, o: 1.5, w: good })).toBeNull();
    expect(readSavedWindow({ v: 1, o: 1, w: [1, 2] })).toBeNull();
    for (const v of [null, undefined, 7, 'x', []]) expect(readSavedWindow(v)).toBeNull();
  });
});

describe('rebuildFrom: where a window without a saved copy is rebuilt from', () => {
  it('reads back the later of the count and the time bound, never past the position', () => {
    expect(rebuildFrom(1_000, 200, 900)).toBe(900);
    expect(rebuildFrom(1_000, 200, 100)).toBe(800);
    expect(rebuildFrom(100, 200, 0)).toBe(0);
    expect(rebuildFrom(1_000, 200, -1)).toBe(1_000);
    expect(rebuildFrom(1_000, 200, 5_000)).toBe(1_000);
    expect(rebuildFrom(1_000, 200, null)).toBe(800);
  });
});
