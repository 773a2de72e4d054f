// One event as the query API answers it (the objects of `events` in GET /v1/users/{id}/events),
// written by src/view/render.ts. Absent strings are null; times are ISO 8601 UTC with
// milliseconds; properties, traits and context are the stored JSON, or null where it is not valid
// JSON. For code that reads such replies (GraphQL's resolvers, tests).
export interface EventReply {
  event_id: string;
  type: string;
  event: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  timestamp: string;
  received_at: string;
  source: string;
  category: string | null;
  group_id: string | null;
  properties: unknown;
  traits: unknown;
  context: unknown;
  name: string | null;
  previous_id: string | null;
}
