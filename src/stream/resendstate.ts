// The stream's resend windows (src/dedup/resendwindow.ts) across restarts. Each events partition's
// window is saved in the stream store (database `windows`) with the offset it reflects, at the
// first commit, every WINDOW_SAVE_MS and at a clean stop, in the transaction that writes that
// offset. At start a saved window is restored and the records from its offset up to the stored
// position are read again only to feed it (replay), as the view does. A partition with a position
// and no usable window (a store written before windows were kept, a start killed before its first
// save, another format) has its window rebuilt from the topic: the records of the window's bounds
// (SINK_DEDUP_WINDOW_MS before now, at most SINK_DEDUP_WINDOW_EVENTS) before its position. Either
// way a client's resend of an event counted before the start is not counted again.
import { ResendWindow } from '../dedup/resendwindow.js';

/** How often the windows are saved beside the offsets (also at the first commit and at stop). */
export const WINDOW_SAVE_MS = 30_000;

/** The saved form's version: a value of another is not read (the window is rebuilt instead). */
export const SAVED_WINDOW_VERSION = 1;

/** A partition's window as the store keeps it: the offset it reflects (the next to read) and ResendWindow.snapshot(). */
export interface SavedWindow {
  v: number;
  o: number;
  w: Uint8Array;
}

export function savedWindow(offset: number, snapshot: Uint8Array): SavedWindow {
  return { v: SAVED_WINDOW_VERSION, o: offset, w: snapshot };
}

/**
 * The offset and snapshot bytes of a stored value, or null when it is not a saved window of this
 * version holding a whole ResendWindow snapshot.
 */
export function readSavedWindow(value: unknown): { offset: number; bytes: Uint8Array } | null {
  if (typeof value !== 'object' || value === null) return null;
  const { v, o, w } = value as Partial<SavedWindow>;
  if (v !== SAVED_WINDOW_VERSION || typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0 || !(w instanceof Uint8Array) || !ResendWindow.isSnapshot(w)) return null;
  return { offset: o, bytes: w };
}

/**
 * Where to start reading a partition whose window must be rebuilt from the topic: the window's
 * bounds before `position`, the count (`capacity` records) and the time (`atTime`: the first offset
 * stamped at or after now - SINK_DEDUP_WINDOW_MS, -1 when none is; null when there is no time bound).
 */
export function rebuildFrom(position: number, capacity: number, atTime: number | null): number {
  const byCount = Math.max(0, position - capacity);
  if (atTime === null) return byCount;
  if (atTime < 0) return position;
  return Math.min(position, Math.max(byCount, atTime));
}
