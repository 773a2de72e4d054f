// Stable identities for `trackhouse import`: a file by its content, an event without its own id
// by the file and its position. Re-importing the same history (after a crash, a Ctrl-C, or by
// mistake within the sink's resend window) gives every event the same event_id again, so the
// sink's (user_key, event_id) dedup keeps it once.
import { createHash } from 'node:crypto';

/** Bytes of a file's start that, with its size, name its content. */
export const IDENTITY_PREFIX_BYTES = 64 * 1024;

/** A file's identity: sha256 of its size and its first 64 KB (raw bytes, before gunzip). */
export function fileIdentity(size: number, head: Buffer): string {
  return createHash('sha256').update(`${size}:`).update(head).digest('hex').slice(0, 32);
}

/**
 * An RFC 4122 name-based (version 5 layout) UUID for the `index`-th event of item `item` of the
 * file: hashed, so it looks like any other event id and spreads evenly.
 */
export function derivedEventId(fileId: string, item: number, index: number): string {
  const h = createHash('sha1').update(`${fileId}:${item}:${index}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
