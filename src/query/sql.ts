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

/** Optional strings are stored as '' when absent; the reply says null. */
const optional = (column: string, expr = column) => `if(${column} = '', 'null', toJSONString(${expr}))`;
/** JSON text columns are spliced in as they are, but only when they parse: a bad value reads as null. */
const json = (column: string) => `if(isValidJSON(${column}), ${column}, 'null')`;
/** DateTime64(3, 'UTC') -> "2026-08-01T12:00:00.000Z" (toString always prints the 3 decimals). */
const iso = (column: string) => `'"', replaceOne(toString(${column}), ' ', 'T'), 'Z"'`;

/**
 * One event as the JSON object of the reply, rendered by ClickHouse. Field order is the
 * contract's; `name` and `previous_id` (page/screen name, alias's previous id) come last.
 */
export const EVENT_JSON = `concat(
    '{"event_id":', toJSONString(event_id),
    ',"type":', toJSONString(toString(type)),
    ',"event":', ${optional('event')},
    ',"user_id":', ${optional('user_id')},
    ',"anonymous_id":', ${optional('anonymous_id')},
    ',"timestamp":', ${iso('timestamp')},
    ',"received_at":', ${iso('received_at')},
    ',"source":', toJSONString(toString(source)),
    ',"category":', ${optional('category', 'toString(category)')},
    ',"group_id":', ${optional('group_id')},
    ',"properties":', ${json('properties')},
    ',"traits":', ${json('traits')},
    ',"context":', ${json('context')},
    ',"name":', ${optional('name')},
    ',"previous_id":', ${optional('previous_id')},
    '}')`;

function settings(timeoutMs: number, extra: string[] = []): string {
  return [
    // Newest first straight from the primary key (user_key, timestamp, event_id), read backwards.
    'optimize_read_in_order = 1',
    `max_execution_time = ${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
    "timeout_overflow_mode = 'throw'",
    'output_format_json_escape_forward_slashes = 0',
    'output_format_json_validate_utf8 = 1',
    // Session-wide LIMIT/OFFSET settings would cut our pages: pin them off.
    'limit = 0',
    'offset = 0',
    ...extra,
  ].join(', ');
}

const ms = (param: string) => `fromUnixTimestamp64Milli({${param}:Int64}, 'UTC')`;

/**
 * A page of one user's events, newest first: limit + 1 rows, the extra one only telling whether
 * another page follows. Columns: the event's JSON, its timestamp (ms) and event_id (for the
 * cursor and for collapsing exact duplicates).
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
    query: `SELECT ${EVENT_JSON} AS json, toUnixTimestamp64Milli(timestamp) AS ts, event_id
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
  event: {
    table: 'events_daily_by_event',
    group: 'day, type, event',
    // Non-track rows have no event name: their key is their type ("page", "identify", ...).
    row: `'{"day":"', toString(day), '","type":', toJSONString(toString(type)), ',"key":', toJSONString(if(event = '', toString(type), event))`,
  },
  category: {
    table: 'events_daily_by_category',
    group: 'day, category',
    row: `'{"day":"', toString(day), '","key":', toJSONString(toString(category))`,
  },
  group: {
    table: 'events_daily_by_group',
    group: 'day, group_id',
    row: `'{"day":"', toString(day), '","key":', toJSONString(group_id)`,
  },
} as const;

/**
 * Daily rows of one rollup over all sources (or one): events are summed, distinct users merged
 * from the uniqExact states (a user seen by two sources counts once). Ordered by day, then type
 * (by=event), then key.
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
    query: `SELECT concat(${spec.row}, ',"events":', toString(sum(events)), ',"users":', toString(uniqExactMerge(users)), '}') AS json
FROM ${spec.table}
${where.length > 0 ? `WHERE ${where.join(' AND ')}\n` : ''}GROUP BY ${spec.group}
ORDER BY ${spec.group}
SETTINGS ${settings(timeoutMs)}
FORMAT RowBinary`,
    params,
  };
}

/** Readiness: ClickHouse answers and the events table exists (migrations ran). */
export const READY_SQL = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events' FORMAT RowBinary";
