import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES } from '../config/index.js';
import { decodeCursor, encodeCursor, scopeFingerprint } from './cursor.js';

const scope = { userKey: 'u', from: null, to: null, type: null, event: null };

describe('cursor', () => {
  it('round-trips any event id and timestamp, and is URL-safe as it is', () => {
    const fp = scopeFingerprint(scope);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2299, 11, 31) }), (id, ts) => {
        const text = encodeCursor({ ts, id }, fp);
        expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeCursor(text, fp)).toEqual({ ts, id });
      }),
    );
  });

  it('takes back the cursor it writes for the longest event id an accepted event can carry', () => {
    // The ingest bounds a messageId only by the event's size: an id of thousands of characters is
    // accepted, and its page's next_cursor must be taken back, or that user's pages stop there.
    const fp = scopeFingerprint(scope);
    const ts = Date.UTC(1900, 0, 1); // the longest timestamp text, "-2208988800000"
    for (const id of ['x'.repeat(5000), 'x'.repeat(MAX_EVENT_BYTES), '\u4e2d'.repeat(Math.floor(MAX_EVENT_BYTES / 3))]) {
      const back = decodeCursor(encodeCursor({ ts, id }, fp), fp);
      expect(typeof back === 'string' ? `${id.length} characters: ${back}` : back.id === id && back.ts === ts).toBe(true);
    }
  });

  it('is bound to user and filters', () => {
    const text = encodeCursor({ ts: 1, id: 'x' }, scopeFingerprint(scope));
    expect(decodeCursor(text, scopeFingerprint({ ...scope, userKey: 'v' }))).toContain('another user');
    expect(decodeCursor(text, scopeFingerprint({ ...scope, from: 0 }))).toContain('other filters');
  });

  it('refuses text that is not one of its cursors', () => {
    const fp = scopeFingerprint(scope);
    for (const bad of ['', 'a', '!!', Buffer.from('2|1|x|y').toString('base64url'), Buffer.from(`1|abc|${fp}|y`).toString('base64url'), Buffer.from(`1|99999999999999|${fp}|y`).toString('base64url')]) {
      expect(typeof decodeCursor(bad, fp)).toBe('string');
    }
  });
});
