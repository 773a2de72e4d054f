// Validation of every request parameter. A request is either turned into a typed, normalized
// request or refused with an InvalidParameterError naming the parameter; nothing the client sent
// goes further unchecked. Values later reach ClickHouse only as query parameters.
import { parseIsoTime, typedTime, type IsoTimeProblem } from '../common/isotime.js';
import { readQuery } from '../common/querystring.js';
import { SOURCE_NAME, SOURCE_NAME_RULE } from '../config/index.js';
import { EVENT_TYPES, MAX_ID_LENGTH, ROLLUP_END_MS, STORABLE_TIMES, type EventType } from '../schema/index.js';
import { decodeCursor, scopeFingerprint, type Cursor } from './cursor.js';
import { InvalidParameterError } from './errors.js';

/** Longest user id and event name accepted: longer ones cannot have been stored (the ingest refuses them). */
export { MAX_ID_LENGTH };

export interface EventsRequest {
  /** user_id, or anonymous_id for a user never identified (the events table's user_key). */
  userKey: string;
  /** Unix ms, inclusive. */
  from: number | null;
  /** Unix ms, exclusive. */
  to: number | null;
  type: EventType | null;
  event: string | null;
  limit: number;
  cursor: Cursor | null;
}

export const ROLLUP_DIMENSIONS = ['event', 'category', 'group'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

export interface RollupsRequest {
  by: RollupDimension;
  /** First day (YYYY-MM-DD, UTC) selected, inclusive; null = no lower bound. */
  fromDay: string | null;
  /** First day not selected, exclusive; null = no upper bound. */
  toDay: string | null;
  source: string | null;
  /** True when no day can be selected (e.g. from and to within one day): answered without a query. */
  empty: boolean;
}

export interface Limits {
  defaultLimit: number;
  maxLimit: number;
}

const EVENTS_PARAMS = new Set(['from', 'to', 'type', 'event', 'limit', 'cursor']);
const ROLLUP_PARAMS = new Set(['by', 'from', 'to', 'source']);

/** `from` and `to`: typed by people, a zone required, within what events can hold. */
const TIME = typedTime(STORABLE_TIMES);
const DAY_MS = 86_400_000;

function time(name: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  const why: IsoTimeProblem = { reason: '' };
  const t = parseIsoTime(value, TIME, why);
  if (Number.isNaN(t)) throw new InvalidParameterError(name, `${name}: ${why.reason}`);
  return t;
}

/** YYYY-MM-DD of the UTC day that contains `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first UTC midnight at or after `ms`. */
export function ceilToDay(ms: number): number {
  return Math.ceil(ms / DAY_MS) * DAY_MS;
}

function range(q: ReadonlyMap<string, string>): { from: number | null; to: number | null } {
  const from = time('from', q.get('from'));
  const to = time('to', q.get('to'));
  if (from !== null && to !== null && from >= to) {
    throw new InvalidParameterError('from', 'from must be earlier than to (from is inclusive, to exclusive)');
  }
  return { from, to };
}

/** `rawUserId` is the path segment as received (still percent-encoded). */
export function parseEventsRequest(rawUserId: string, query: string, limits: Limits): EventsRequest {
  let userKey: string;
  try {
    // Without '%' there is nothing to decode (most ids).
    userKey = rawUserId.indexOf('%') < 0 ? rawUserId : decodeURIComponent(rawUserId);
  } catch {
    throw new InvalidParameterError('userId', 'userId is not valid percent-encoded UTF-8');
  }
  checkUserKey(userKey);
  return eventsRequestOf(userKey, readQuery(query, EVENTS_PARAMS), limits);
}

/**
 * The same request from values already decoded (GraphQL's arguments, by REST's parameter names),
 * without a query string made and parsed again: a value that is null or undefined is left out,
 * any other is its String(), and an empty one refused, as readQuery() does.
 */
export function eventsRequest(userKey: string, values: Readonly<Record<string, unknown>>, limits: Limits): EventsRequest {
  checkUserKey(userKey);
  const q = new Map<string, string>();
  for (const name of EVENTS_PARAMS) {
    const v = values[name];
    if (v === null || v === undefined) continue;
    const text = String(v);
    if (text === '') throw new InvalidParameterError(name, `${name} is empty; leave it out instead`);
    q.set(name, text);
  }
  return eventsRequestOf(userKey, q, limits);
}

function checkUserKey(userKey: string): void {
  if (userKey === '') throw new InvalidParameterError('userId', 'userId is empty');
  if (userKey.length > MAX_ID_LENGTH) throw new InvalidParameterError('userId', `userId is longer than ${MAX_ID_LENGTH} characters`);
}

function eventsRequestOf(userKey: string, q: ReadonlyMap<string, string>, limits: Limits): EventsRequest {
  const { from, to } = range(q);

  let type: EventType | null = null;
  const typeText = q.get('type');
  if (typeText !== undefined) {
    if (!(EVENT_TYPES as readonly string[]).includes(typeText)) {
      throw new InvalidParameterError('type', `type must be one of ${EVENT_TYPES.join(', ')}`);
    }
    type = typeText as EventType;
  }

  const event = q.get('event') ?? null;
  if (event !== null && event.length > MAX_ID_LENGTH) {
    throw new InvalidParameterError('event', `event is longer than ${MAX_ID_LENGTH} characters`);
  }

  let limit = limits.defaultLimit;
  const limitText = q.get('limit');
  if (limitText !== undefined) {
    limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= limits.maxLimit)) {
      throw new InvalidParameterError('limit', `limit must be an integer from 1 to ${limits.maxLimit}`);
    }
  }

  let cursor: Cursor | null = null;
  const cursorText = q.get('cursor');
  if (cursorText !== undefined) {
    // Hashed only here and when a next_cursor is written: a cache hit never needs it.
    const c = decodeCursor(cursorText, scopeFingerprint({ userKey, from, to, type, event }));
    if (typeof c === 'string') throw new InvalidParameterError('cursor', `cursor: ${c}`);
    cursor = c;
  }
  return { userKey, from, to, type, event, limit, cursor };
}

/**
 * Days selected by a from/to range: every UTC day whose midnight lies in [from, to). With dates
 * (or midnights) this is exactly "from the day `from` up to but not including the day `to`";
 * a day that starts before `from` is left out, because a rollup cannot count part of a day.
 */
export function parseRollupsRequest(query: string): RollupsRequest {
  const q = readQuery(query, ROLLUP_PARAMS);
  const byText = q.get('by');
  if (byText === undefined) throw new InvalidParameterError('by', `by is required: one of ${ROLLUP_DIMENSIONS.join(', ')}`);
  if (!(ROLLUP_DIMENSIONS as readonly string[]).includes(byText)) {
    throw new InvalidParameterError('by', `by must be one of ${ROLLUP_DIMENSIONS.join(', ')}`);
  }
  const { from, to } = range(q);
  const source = q.get('source') ?? null;
  if (source !== null && !SOURCE_NAME.test(source)) {
    throw new InvalidParameterError('source', `source must be ${SOURCE_NAME_RULE}`);
  }
  // The rollups' `day` is a ClickHouse Date (1970-01-01 to 2149-06-06): a bound outside that
  // range selects nothing more than no bound does, and would not fit the parameter type.
  const fromMs = from === null ? null : ceilToDay(from);
  const toMs = to === null ? null : ceilToDay(to);
  const empty = (fromMs !== null && (fromMs > LAST_DATE_MS || (toMs !== null && fromMs >= toMs))) || (toMs !== null && toMs <= 0);
  return {
    by: byText as RollupDimension,
    fromDay: fromMs === null || fromMs <= 0 || empty ? null : utcDay(fromMs),
    toDay: toMs === null || toMs > LAST_DATE_MS || empty ? null : utcDay(toMs),
    source,
    empty,
  };
}

/** Midnight of the last day a rollup's `day` (a ClickHouse Date) holds: 2149-06-06. */
const LAST_DATE_MS = ROLLUP_END_MS - DAY_MS;

/** The part of a request that selects its answer, for the cache (the user is kept apart). */
export function eventsCacheKey(r: EventsRequest): string {
  return JSON.stringify([r.from, r.to, r.type, r.event, r.limit, r.cursor?.ts ?? null, r.cursor?.id ?? null]);
}
