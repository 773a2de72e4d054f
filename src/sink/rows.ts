// One event as one TabSeparated row of `events`, the text ClickHouse parses fastest among the
// formats that pass both through a ClickHouse server and through chDB's connection hook (which
// takes text only). Figures: docs/architecture/sink.md, and `npm run bench -- sink`.
//
// Per event this runs in a decode worker, so it is kept to string concatenation (V8 ropes, flattened
// once when written into the payload), one regex test per free-text field, and timestamps as
// Unix seconds with milliseconds, which ClickHouse reads for DateTime64 without date math here.
import type { EventRecord } from '../schema/index.js';

/** The columns each row fills, in order; the INSERT names them. */
export const EVENT_COLUMNS = [
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

/** DateTime64(3)'s range in ClickHouse: [1900-01-01, 2299-12-31]. */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MS = Date.UTC(2300, 0, 1) - 1;

/** Times written as Unix seconds: those with 9 or 10 digits (1973-03-03 09:46:40 to 2286-11-20 17:46:40 UTC). */
const MIN_UNIX_SECONDS_MS = 100_000_000_000;
const END_UNIX_SECONDS_MS = 10_000_000_000_000;

export class InvalidEventError extends Error {
  readonly code = 'EVENT_OUT_OF_RANGE';
}

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

function time(ms: number, field: string): string {
  if (!(ms >= MIN_TIME_MS && ms <= MAX_TIME_MS) || !Number.isInteger(ms)) {
    throw new InvalidEventError(`${field} ${ms} is outside ClickHouse's DateTime64 range (1900-01-01 to 2299-12-31)`);
  }
  // As text outside 1973-03-03 09:46:40 .. 2286-11-20 17:46:40: ClickHouse reads no negative Unix
  // time, and reads Unix seconds of other than 9 or 10 digits as a date (YYYYMMDD...) or not at all,
  // an error that fails the whole insert again on every retry.
  if (ms < MIN_UNIX_SECONDS_MS || ms >= END_UNIX_SECONDS_MS) return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
  const frac = ms % 1000;
  return `${(ms - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** The user a row belongs to, as `events.user_key` computes it. */
export function userKeyOf(r: EventRecord): string {
  return r.user_id !== null && r.user_id !== '' ? r.user_id : (r.anonymous_id ?? '');
}

/**
 * One row, newline included. `topicField` is the topic, already escaped (it is the same for every
 * row). Throws InvalidEventError when ClickHouse would refuse the row.
 */
export function tsvRow(r: EventRecord, topicField: string, partition: number, offset: number): string {
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
