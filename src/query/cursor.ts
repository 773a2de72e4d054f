// Opaque keyset cursor for the per-user events query.
//
// Pages are ordered by (timestamp DESC, event_id DESC), which is unique per event, and the next
// page starts strictly after the last row served: (timestamp, event_id) < (ts, id). So pages
// never overlap and never skip, whatever arrives meanwhile: a newer event sorts before page 1
// and cannot shift later pages; a late event with an older timestamp lands where it belongs and
// is served by the page that covers its position (if that page has not been fetched yet).
//
// Wire form: base64url of "1|<ts ms>|<fingerprint>|<event_id>". The fingerprint ties a cursor to
// the user and filters it was made for, so a cursor replayed with other filters is refused
// instead of silently giving a page of a different query; `limit` may change between pages.
import { hash } from 'node:crypto';
import { MAX_EVENT_BYTES } from '../config/index.js';
import { isStorableTime } from '../schema/index.js';

export interface Cursor {
  /** Timestamp (Unix ms) of the last event served. */
  ts: number;
  /** event_id of the last event served. */
  id: string;
}

/** What a cursor is bound to: the user and every filter except limit. */
export interface CursorScope {
  userKey: string;
  from: number | null;
  to: number | null;
  type: string | null;
  event: string | null;
}

const VERSION = '1';
/**
 * Longer cursors are refused before any decoding work. The longest this API writes is that of the
 * longest event id: the ingest bounds a messageId only by the event's size (an encoded event is at
 * most MAX_EVENT_BYTES), so the bound is that many bytes of id after "1|<ts>|<fingerprint>|"
 * (at most 2 + 16 + 1 + 16 + 1 bytes), in base64url. A lower one (it was 4096) refused the
 * next_cursor of a page ending on an event with an id of a few thousand characters.
 */
export const MAX_CURSOR_LENGTH = Math.ceil(((2 + 16 + 1 + 16 + 1 + MAX_EVENT_BYTES) * 4) / 3);

export function scopeFingerprint(s: CursorScope): string {
  // One-shot hash(): a third of createHash()'s cost, on every page that has a next one.
  return hash('sha256', scopeText(s), 'base64url').slice(0, 16);
}

/** What a scope's fingerprint hashes: its JSON (src/graphql/fastpage.ts writes the same bytes itself). */
export function scopeText(s: CursorScope): string {
  return JSON.stringify([s.userKey, s.from, s.to, s.type, s.event]);
}

export function encodeCursor(c: Cursor, fingerprint: string): string {
  return Buffer.from(`${VERSION}|${c.ts}|${fingerprint}|${c.id}`, 'utf8').toString('base64url');
}

/** The cursor, or a reason it is not a valid cursor for this scope. */
export function decodeCursor(text: string, fingerprint: string): Cursor | string {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return 'not a cursor returned by this API';
  const raw = Buffer.from(text, 'base64url').toString('utf8');
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  const c = raw.indexOf('|', b + 1);
  if (a < 0 || b < 0 || c < 0 || raw.slice(0, a) !== VERSION) return 'not a cursor returned by this API';
  const tsText = raw.slice(a + 1, b);
  if (!/^-?\d{1,16}$/.test(tsText)) return 'not a cursor returned by this API';
  const ts = Number(tsText);
  if (!isStorableTime(ts)) return 'not a cursor returned by this API';
  if (raw.slice(b + 1, c) !== fingerprint) return 'cursor belongs to another user or other filters (from, to, type, event)';
  return { ts, id: raw.slice(c + 1) };
}

/**
 * The cursors of a page of `r`: each points right after one of its events, as next_cursor does for
 * the page's last one (GraphQL gives one per edge). The scope is hashed once per page.
 */
export function cursorsOf(r: CursorScope): (ts: number, id: string) => string {
  const fingerprint = scopeFingerprint(r);
  return (ts, id) => encodeCursor({ ts, id }, fingerprint);
}
