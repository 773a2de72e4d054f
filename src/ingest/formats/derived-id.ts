// An event id for a PostHog event sent without `uuid`, derived from what the SDK sent, so that the
// SDK's own resends of it are deduplicated (by event id) instead of stored once per try.
// posthog-go before 1.6 sends no uuid and resends a whole batch on any answer but 2xx (a 400 for
// one bad event too); PostHog's capture would give each try a fresh id. PostHog's own duplicate
// key for such events is (timestamp, event, distinct_id, token) (its kafka-deduplicator).
// Derived only when the timestamp is finer than a millisecond (Go's RFC3339Nano clock reading):
// such a reading names one call, while a hand-written "2024-01-01T00:00:00Z" may be shared by
// several real events, which keep random ids.
import { createHash } from 'node:crypto';

const SUB_MS = /\.\d{4,}/;

/** A UUID (version 8, name-based) for (distinct_id, event, timestamp text), or undefined. */
export function derivedEventId(distinctId: string, event: string, timestamp: unknown): string | undefined {
  if (typeof timestamp !== 'string' || !SUB_MS.test(timestamp)) return undefined;
  // Lengths first, so that no two different triples hash the same text.
  const h = createHash('sha256').update(`${distinctId.length}:${distinctId}${event.length}:${event}${timestamp}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
