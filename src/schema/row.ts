// One event as one row of the `events` table (clickhouse/001_events.sql): its columns, whose user
// it is, which times it can hold, its TabSeparated text as the sink writes it, and the fields the
// query API shows. The one home of these facts: ingest (the Kafka key, the time range), sink and
// replay (the row, the key in SQL), the view (the key, which records the sink keeps) and query
// (the range, the row read back) import them, and row.test.ts checks them against the migration.
//
// TabSeparated is the text ClickHouse parses fastest among the formats that pass both through a
// ClickHouse server and through chDB's connection hook (which takes text only); figures in
// docs/architecture/sink.md and `npm run bench -- sink`. Per event the writer runs in a decode
// worker, so it is kept to string concatenation (V8 ropes, flattened once when written into the
// payload), one regex test per free-text field, and times as Unix seconds with milliseconds,
// which ClickHouse reads for DateTime64 without date math here.
import { TrackhouseError } from '../common/errors.js';
import { timeRange, type TimeRange } from '../common/isotime.js';
import type { EventRecord } from './types.js';

/** The columns each row fills, in order: the column list of every INSERT into `events`. */
export const EVENTS_INSERT_COLUMNS = [
  'event_id',
  'type',
  'event',
  'user_id',
  'anonymous_id',
  'timestamp',
  'sent_at',
  'received_at',
  'source',
  'category',
  'group_id',
  'name',
  'previous_id',
  'properties',
  'traits',
  'context',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
] as const;

// ---- whose event it is ----

/**
 * The user an event belongs to: `user_id`, else `anonymous_id` (an event of a user never
 * identified). It is the Kafka key (a user's events stay in one partition, in order), the sink's
 * identity (with event_id), and `events.user_key`, the table's first key column.
 */
export function userKeyOf(r: { readonly user_id: string | null; readonly anonymous_id: string | null }): string {
  return r.user_id !== null && r.user_id !== '' ? r.user_id : (r.anonymous_id ?? '');
}

/** userKeyOf in ClickHouse's terms (absent strings are ''): `events.user_key`'s expression. */
export const USER_KEY_SQL = "if(user_id != '', user_id, anonymous_id)";

// ---- which times it can hold ----

/** The first millisecond ClickHouse DateTime64(3) holds: 1900-01-01 00:00:00.000 UTC. */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
/** The first millisecond it does not hold (exclusive end): 2300-01-01 00:00:00.000 UTC. */
export const END_TIME_MS = Date.UTC(2300, 0, 1);
/** The storable range as people read it, for messages. */
export const TIME_RANGE_TEXT = '1900-01-01 to 2299-12-31';

/** The same range, for the ISO time reader's options. */
export const STORABLE_TIMES: TimeRange = timeRange(MIN_TIME_MS, END_TIME_MS);

/** A time `events` can store: MIN_TIME_MS <= ms < END_TIME_MS (whole milliseconds or not). */
export function isStorableTime(ms: number): boolean {
  return ms >= MIN_TIME_MS && ms < END_TIME_MS;
}

// ---- which day the daily rollups count it on ----

/**
 * The daily rollups' `day` is a ClickHouse `Date` (1970-01-01 to 2149-06-06), and toDate() of a
 * time outside it wraps or clamps (1900-01-01 becomes 2079-06-07, 2299-12-31 2120-07-26,
 * 2149-06-07 1970-01-01): the rollups count only events with ROLLUP_FIRST_MS <= timestamp <
 * ROLLUP_END_MS. Such events stay in `events`.
 */
export const ROLLUP_FIRST_MS = Date.UTC(1970, 0, 1);
/** The first millisecond whose day a rollup cannot hold (exclusive end): 2149-06-07 00:00:00.000 UTC. */
export const ROLLUP_END_MS = Date.UTC(2149, 5, 7);
/** The days the rollups hold, as people read them. */
export const ROLLUP_DAYS_TEXT = '1970-01-01 to 2149-06-06';
/**
 * The same range over `events.timestamp`, in ClickHouse's terms: the WHERE of the rollups'
 * materialized views (clickhouse/004_rollups_date_range.sql, which a unit test keeps equal to
 * this text) and of the erasure's day rebuild.
 */
export const ROLLUP_TIME_SQL =
  "timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')";

/**
 * Every time of a record fits `events` (whole milliseconds in the storable range): the records
 * encodeTsvRow writes. The sink dead-letters the others, and the view leaves them out the same way.
 */
export function recordTimesStorable(r: EventRecord): boolean {
  const fits = (ms: number) => Number.isInteger(ms) && isStorableTime(ms);
  return fits(r.timestamp) && fits(r.received_at) && (r.sent_at === null || fits(r.sent_at));
}

// ---- which JSON texts it reads ----

/** The deepest value ClickHouse's JSON functions read (its isValidJSON refuses deeper); the top value is at depth 1. */
export const MAX_JSON_DEPTH = 1024;
/**
 * The integers (no fraction, no exponent) it reads in JSON text: up to UInt64's maximum, down to
 * Int64's minimum; their digits, to compare a token's with (same length: as strings).
 */
export const UINT64_MAX_DIGITS = '18446744073709551615';
export const INT64_MIN_DIGITS = '9223372036854775808';

/**
 * Whether compact JSON text (no whitespace between tokens, as JSON.stringify and the ingest's
 * scanner keep it) holds a value deeper than MAX_JSON_DEPTH, which makes ClickHouse refuse the
 * whole text: `isValidJSON` 0, JSONExtract empty, the query API's `null`. Such a text is longer
 * than 2 * MAX_JSON_DEPTH characters, so almost every text is passed by its length alone; a
 * longer one is walked once (strings skipped by indexOf).
 */
export function jsonTooDeep(text: string): boolean {
  const n = text.length;
  if (n <= 2 * MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      // [ {: a value at depth + 1, and the containers around what follows.
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x22) {
      // A string: its end is the next quote after an even run of backslashes.
      let q = i;
      for (;;) {
        q = text.indexOf('"', q + 1);
        if (q < 0) return false;
        let b = q - 1;
        while (text.charCodeAt(b) === 0x5c) b--;
        if ((q - 1 - b) % 2 === 0) break;
      }
      // A member name (followed by its colon) is not a value.
      if (text.charCodeAt(q + 1) !== 0x3a && depth + 1 > MAX_JSON_DEPTH) return true;
      i = q;
    } else if (c !== 0x2c && c !== 0x3a) {
      // A number, true, false or null.
      if (depth + 1 > MAX_JSON_DEPTH) return true;
    }
  }
  return false;
}

/** A record whose times ClickHouse would refuse (the whole insert with it). */
export class InvalidEventError extends TrackhouseError {
  constructor(message: string) {
    super('EVENT_OUT_OF_RANGE', message);
  }
}

// ---- the row as TabSeparated text ----

const SPECIAL = /[\t\n\r\\\0]/;
const SPECIAL_ALL = /[\t\n\r\\\0]/g;
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\', '\0': '\\0' };
const escapeChar = (c: string): string => ESCAPES[c]!;

/** TabSeparated escaping: only tab, newline, CR, backslash and NUL need it; most values have none. */
export function escapeTsv(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, escapeChar) : s;
}

function opt(s: string | null): string {
  return s === null ? '' : escapeTsv(s);
}

/** Times written as Unix seconds: those with 9 or 10 digits (1973-03-03 09:46:40 to 2286-11-20 17:46:40 UTC). */
const MIN_UNIX_SECONDS_MS = 100_000_000_000;
const END_UNIX_SECONDS_MS = 10_000_000_000_000;

/** Whether a row writes this time as Unix seconds (else as a date-time text, see time()). */
export function isUnixSecondsTime(ms: number): boolean {
  return ms >= MIN_UNIX_SECONDS_MS && ms < END_UNIX_SECONDS_MS;
}

function time(ms: number, field: string): string {
  if (!isStorableTime(ms) || !Number.isInteger(ms)) {
    throw new InvalidEventError(`${field} ${ms} is outside ClickHouse's DateTime64 range (${TIME_RANGE_TEXT})`);
  }
  // As text outside 1973-03-03 09:46:40 .. 2286-11-20 17:46:40: ClickHouse reads no negative Unix
  // time, and reads Unix seconds of other than 9 or 10 digits as a date (YYYYMMDD...) or not at all,
  // an error that fails the whole insert again on every retry.
  if (!isUnixSecondsTime(ms)) return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
  const frac = ms % 1000;
  return `${(ms - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/**
 * One row in EVENTS_INSERT_COLUMNS order, newline included. `topicField` is the topic, already
 * escaped (it is the same for every row). Throws InvalidEventError when ClickHouse would refuse it.
 */
export function encodeTsvRow(r: EventRecord, topicField: string, partition: number, offset: number): string {
  return (
    escapeTsv(r.event_id) +
    '\t' +
    r.type +
    '\t' +
    opt(r.event) +
    '\t' +
    opt(r.user_id) +
    '\t' +
    opt(r.anonymous_id) +
    '\t' +
    time(r.timestamp, 'timestamp') +
    '\t' +
    (r.sent_at === null ? '\\N' : time(r.sent_at, 'sent_at')) +
    '\t' +
    time(r.received_at, 'received_at') +
    '\t' +
    escapeTsv(r.source) +
    '\t' +
    opt(r.category) +
    '\t' +
    opt(r.group_id) +
    '\t' +
    opt(r.name) +
    '\t' +
    opt(r.previous_id) +
    '\t' +
    escapeTsv(r.properties) +
    '\t' +
    escapeTsv(r.traits) +
    '\t' +
    escapeTsv(r.context) +
    '\t' +
    topicField +
    '\t' +
    partition +
    '\t' +
    offset +
    '\n'
  );
}

/**
 * One row as it now stands in `events`, in that table's terms: absent strings are '' (as
 * ClickHouse stores them), times are Unix milliseconds. The fields the query API shows
 * (src/view/render.ts renders them).
 */
export interface StoredRow {
  readonly event_id: string;
  readonly type: string;
  readonly event: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  readonly timestamp: number;
  readonly received_at: number;
  readonly source: string;
  readonly category: string;
  readonly group_id: string;
  readonly name: string;
  readonly previous_id: string;
  readonly properties: string;
  readonly traits: string;
  readonly context: string;
}
