// The JSON the page reads, as the API documents it (docs/openapi.yaml).

/** GET /v1/volume (live volume, issue #11): one row per window start and key. */
export interface VolumeRow {
  start: string;
  key: string;
  events: number;
  users?: number;
  sums?: Record<string, number>;
}

/** GET /v1/rollups/daily */
export interface RollupRow {
  day: string;
  key: string;
  type?: string;
  events: number;
  users: number;
}

/**
 * GET /v1/users/{id}/events: src/schema/reply.ts's EventReply, restated because this bundle's
 * tsconfig (rootDir src/dashboard/web) cannot import from outside it.
 */
export interface EventRow {
  event_id: string;
  type: string;
  event: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  timestamp: string;
  received_at: string;
  source: string | null;
  category: string | null;
  group_id: string | null;
  /** Read by parseExact (exactjson.ts): an integer past 2^53 may be a RawJson, for JSON.stringify only. */
  properties: unknown;
  traits: unknown;
  context: unknown;
  name: string | null;
  previous_id: string | null;
}

export interface EventsPage {
  events: EventRow[];
  next_cursor: string | null;
}

interface Reachable {
  configured: true;
  url: string;
  reachable: boolean;
  /** null: /readyz gave no answer. */
  ready: boolean | null;
  checks: Record<string, string>;
  error: string | null;
}

export interface IngestStatus extends Reachable {
  events_accepted: number | null;
  events_rejected: Record<string, number> | null;
  bodies_rejected: Record<string, number> | null;
  unauthenticated: Record<string, number> | null;
  requests_in_flight: number | null;
  pending_bytes: number | null;
}

export interface SinkStatus extends Reachable {
  lag: number | null;
  lag_by_partition: Record<string, number> | null;
  rows_inserted: number | null;
  insert_failures: number | null;
  dead_letters: Record<string, number> | null;
  waiting_for_clickhouse: boolean | null;
}

/** GET /v1/pipeline */
export interface PipelineStatus {
  time: string;
  ingest: IngestStatus | { configured: false };
  sink: SinkStatus | { configured: false };
}
