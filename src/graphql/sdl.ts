// The GraphQL schema's SDL: the one definition the server builds from. docs/schema.graphql is its
// printed copy for readers and tools; src/graphql/schema.test.ts fails when the two differ.
import { ROLLUP_DAYS_TEXT } from '../schema/index.js';

export const SDL = /* GraphQL */ `
"""
trackhouse's read API as GraphQL: the same data, checks and cursors as the REST endpoints
(GET /v1/users/{userId}/events, /v1/rollups/daily, /v1/volume, /v1/alerts).
Times are ISO 8601: a date (2026-08-01, midnight UTC) or a date-time with a zone; \`from\` is
inclusive, \`to\` exclusive.
"""
type Query {
  "One user: the user id, or the anonymous id for events of a user never identified."
  user(id: String!): User!
  """
  Daily rollups: every UTC day whose midnight lies in [from, to), ordered by day, then key.
  An event whose time is outside ClickHouse Date's days (${ROLLUP_DAYS_TEXT}, UTC) is in no rollup (it is kept for user(id)).
  """
  rollups(by: RollupDimension!, from: String, to: String, source: String): [RollupRow!]!
  "Live volume from the stream processor (as GET /v1/volume)."
  volume(by: VolumeDimension = source, window: VolumeWindow = minute, from: String, to: String, source: String, event: String, type: EventType): Volume!
  "Alert rules, their alerting groups and recent notifications (as GET /v1/alerts)."
  alerts(rule: String): Alerts!
}

type User {
  id: String!
  """
  The user's events, newest first (ties by eventId, descending). \`first\`: 1 to QUERY_MAX_LIMIT,
  default QUERY_DEFAULT_LIMIT. \`after\`: an edge's cursor (or pageInfo.endCursor) from the same
  user and filters; the next page starts right after it, and pages never overlap or skip.
  """
  events(from: String, to: String, type: EventType, event: String, first: Int, after: String): EventConnection!
}

type EventConnection {
  edges: [EventEdge!]!
  pageInfo: PageInfo!
}

type EventEdge {
  "Pass as \`after\` to get the events older than this one. The last edge's is REST's next_cursor."
  cursor: String!
  node: Event!
}

type PageInfo {
  hasNextPage: Boolean!
  "Always false: pages are read newest first, forwards only."
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum EventType {
  track
  identify
  page
  screen
  group
  alias
}

type Event {
  eventId: String!
  type: EventType!
  "A track event's name; null for other types."
  event: String
  userId: String
  anonymousId: String
  "ISO 8601 UTC with milliseconds."
  timestamp: String!
  receivedAt: String!
  source: String!
  category: String
  groupId: String
  "The stored JSON object; null if the stored text does not parse."
  properties: JSON
  traits: JSON
  context: JSON
  name: String
  previousId: String
}

"Any JSON value."
scalar JSON

enum RollupDimension {
  event
  category
  group
}

type RollupRow {
  "YYYY-MM-DD (UTC)."
  day: String!
  "The event name (a non-track row: its type), the category or the group id."
  key: String!
  "by: event only."
  type: EventType
  "Counts are Floats: GraphQL's Int has 32 bits."
  events: Float!
  users: Float!
}

enum VolumeDimension {
  source
  event
  type
  reason
}

enum VolumeWindow {
  minute
  hour
  day
}

type Volume {
  rows: [VolumeRow!]!
  "The stream's event-time watermark; null before its first event."
  watermark: String
  caughtUp: Boolean!
}

type VolumeRow {
  "The bucket's start, ISO 8601 UTC."
  start: String!
  key: String!
  type: String
  events: Float!
  "Null for by: reason."
  users: Float
  "Sums of the numeric properties of VOLUME_SUM_PROPERTIES, by name (null where a sum is beyond a double's range)."
  sums: JSON
  late: Float
  rejected: Float
}

type Alerts {
  leader: Boolean!
  caughtUp: Boolean!
  replayingHistory: Boolean!
  watermark: String
  rules: [AlertRule!]!
  notifications: [AlertNotification!]!
}

type AlertRule {
  name: String!
  "The rule as configured."
  definition: JSON
  groupsTracked: Int!
  alertingCount: Int!
  "At most 1000 groups."
  alerting: [AlertingGroup!]!
  lateRecords: Float!
  overflowRecords: Float!
}

type AlertingGroup {
  group: String
  windowStart: String
  windowEnd: String
  value: Float!
  current: Float!
}

type AlertNotification {
  id: String!
  rule: String!
  group: String
  "alert or recovered."
  status: String!
  windowStart: String
  windowEnd: String
  value: Float!
  early: Boolean!
  "Where its delivery stands (as /v1/alerts' delivery)."
  delivery: String!
  attempts: Int!
  lastError: String
  createdAt: String
  doneAt: String
  deliveredBy: String
}
`;
