// The event record as it travels through Kafka, matching the latest schemas/event.v*.avsc.

export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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
