// The event record as it travels through Kafka, matching the latest src/schema/avsc/event.v*.avsc.

export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Longest user id, anonymous id and track event name (in UTF-16 code units, JavaScript's string
 * length) an event may have: the ingest refuses longer ones, so the query API, which takes these
 * as input, can refuse them too and still reach every stored event.
 */
export const MAX_ID_LENGTH = 8192;

export interface EventRecord {
  event_id: string;
  type: EventType;
  event: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  /** Unix milliseconds, corrected for client clock skew. */
  timestamp: number;
  sent_at: number | null;
  received_at: number;
  source: string;
  category: string | null;
  group_id: string | null;
  name: string | null;
  previous_id: string | null;
  /** JSON text of an object. */
  properties: string;
  traits: string;
  context: string;
}
