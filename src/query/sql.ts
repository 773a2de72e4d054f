// The SQL of the query API. The text of every statement comes from this file only; what the
// client sent reaches ClickHouse as query parameters ({name:Type}), never as SQL text. The shape
// of a statement (which WHERE terms it has) depends only on which filters are present.
//
// Settings are written into each statement's SETTINGS clause, not passed as client settings:
// chDB keeps client settings on its session (shared with the sink in the all-in-one), while a
// SETTINGS clause applies to this statement alone. Every setting named here exists in ClickHouse
// 24.8 and in chDB's engine.
import type { EventsRequest, RollupsRequest } from './params.js';

export interface Sql {
  query: string;
  params: Record<string, string | number>;
}

/**
 * The columns of one event, in reply order, as RowBinary gives them: Strings (LowCardinality is
 * sent as String), DateTime64(3) as Int64 milliseconds, and a UInt8 per JSON text column saying
 * whether it parses, so the server can splice the text into the reply without parsing it.
 *
 * Rendering the reply JSON in SQL instead (concat + toJSONString) was measured 2-3 ms slower per
 * query on chDB: planning a large expression costs more than building the JSON in Node.
 */
export const EVENT_COLUMNS = `event_id, type, event, user_id, anonymous_id, timestamp, received_at, source, category, group_id,
    properties, traits, context, name, previous_id,
    isValidJSON(properties) AS properties_ok, isValidJSON(traits) AS traits_ok, isValidJSON(context) AS context_ok`;

function settings(timeoutMs: number, extra: string[] = []): string {
  return [
    // Newest first straight from the primary key (user_key, timestamp, event_id), read backwards.
    'optimize_read_in_order = 1',
    `max_execution_time = ${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
    "timeout_overflow_mode = 'throw'",
    // Session-wide LIMIT/OFFSET settings would cut our pages: pin them off.
    'limit = 0',
    'offset = 0',
    ...extra,
  ].join(', ');
}

const ms = (param: string) => `fromUnixTimestamp64Milli({${param}:Int64}, 'UTC')`;

/**
 * A page of one user's events, newest first: limit + 1 rows, the extra one only telling whether
 * another page follows.
 */
export function userEventsSql(r: EventsRequest, timeoutMs: number): Sql {
  const where = ['user_key = {user:String}'];
  const params: Record<string, string | number> = { user: r.userKey, n: r.limit + 1 };
  if (r.from !== null) {
    where.push(`timestamp >= ${ms('from')}`);
    params.from = r.from;
  }
  if (r.to !== null) {
    where.push(`timestamp < ${ms('to')}`);
    params.to = r.to;
  }
  if (r.type !== null) {
    where.push('type = {type:String}');
    params.type = r.type;
  }
  if (r.event !== null) {
    where.push('event = {event:String}');
    params.event = r.event;
  }
  if (r.cursor !== null) {
    // (timestamp, event_id) < (cts, cid), written so the primary key can bound the timestamp.
    where.push(`timestamp <= ${ms('cts')}`, `(timestamp < ${ms('cts')} OR event_id < {cid:String})`);
    params.cts = r.cursor.ts;
    params.cid = r.cursor.id;
  }
  return {
    query: `SELECT ${EVENT_COLUMNS}
FROM events
WHERE ${where.join('\n  AND ')}
ORDER BY timestamp DESC, event_id DESC
LIMIT {n:UInt32}
SETTINGS ${settings(timeoutMs, [
    // A per-user read touches a few granules: one thread spares the pipeline fan-out.
    'max_threads = 1',
    // Fail loudly rather than scan the table if the key ever stops being used.
    'force_primary_key = 1',
  ])}
FORMAT RowBinary`,
    params,
  };
}

const ROLLUPS = {
  event: { table: 'events_daily_by_event', keys: 'type, event' },
  category: { table: 'events_daily_by_category', keys: 'category' },
  group: { table: 'events_daily_by_group', keys: 'group_id' },
} as const;

/**
 * Daily rows of one rollup over all sources (or one): events are summed, distinct users merged
 * from the uniqExact states (a user seen by two sources counts once). Ordered by day, then type
 * (by=event), then key. Columns: day (Date: UInt16 days), the key column(s), events, users (UInt64).
 */
export function rollupsSql(r: RollupsRequest, timeoutMs: number): Sql {
  const spec = ROLLUPS[r.by];
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  if (r.fromDay !== null) {
    where.push('day >= {from:Date}');
    params.from = r.fromDay;
  }
  if (r.toDay !== null) {
    where.push('day < {to:Date}');
    params.to = r.toDay;
  }
  if (r.source !== null) {
    where.push('source = {source:String}');
    params.source = r.source;
  }
  return {
    query: `SELECT day, ${spec.keys}, sum(events) AS events, uniqExactMerge(users) AS users
FROM ${spec.table}
${where.length > 0 ? `WHERE ${where.join(' AND ')}\n` : ''}GROUP BY day, ${spec.keys}
ORDER BY day, ${spec.keys}
SETTINGS ${settings(timeoutMs)}
FORMAT RowBinary`,
    params,
  };
}

/** Readiness: ClickHouse answers and the events table exists (migrations ran). */
export const READY_SQL = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events' FORMAT RowBinary";
