// An independent model of the daily rollups, for the differential test
// (test/integration/rollups-differential.test.ts): what each accepted call contributes to each
// rollup, derived from the call as the client sent it by the documented rules, not by trackhouse's
// code:
// - an event's user is userId, else anonymousId (a number as its decimal text; '' is absent);
// - by=event counts every call: a track under its event name, any other call under its type;
// - by=category counts a call whose properties.category is a non-empty string, and a page or
//   screen call's top-level `category` when properties has none (docs/architecture/ingest.md),
//   whatever the call's type (an identify's traits.category is a trait, not a category);
// - by=group counts a group call under its groupId, any other call under context.groupId (the
//   batch's context merged under the event's);
// - the time is `timestamp` (else originalTimestamp) corrected for clock skew with sentAt (the
//   event's, else the batch's): receivedAt - (sentAt - timestamp); receivedAt without one; times
//   outside [1900-01-01, 2300-01-01) are refused; a day is counted only in [1970-01-01,
//   2149-06-07) UTC;
// - an event is (user, messageId): the first one accepted counts, resends and replays do not;
//   a call without messageId is an event of its own;
// - a lone surrogate is stored as U+FFFD.
// Times are known to the model as Unix ms (the generator keeps them beside the text it sends),
// and receivedAt only as the interval [before the request, after its answer].

export const DAY_MS = 86_400_000;
const STORABLE_FROM = Date.UTC(1900, 0, 1);
const STORABLE_END = Date.UTC(2300, 0, 1);
const ROLLUP_FROM = Date.UTC(1970, 0, 1);
const ROLLUP_END = Date.UTC(2149, 5, 7);

export type Json = Record<string, unknown>;

/** What the generator knows of a call's times, beside the text it sends. */
export interface CallTimes {
  /** The time given as timestamp (or originalTimestamp), or null when none is sent. */
  ts: number | null;
  /** The call's own sentAt, or null. */
  sentAt: number | null;
}

/** One call as the model counts it. */
export interface Counted {
  /** (user, messageId); a call without messageId gets one of its own. */
  identity: string;
  userKey: string;
  source: string;
  /** YYYY-MM-DD, or null when no rollup counts the time. */
  day: string | null;
  type: string;
  /** Track calls: the event name; '' otherwise. */
  event: string;
  category: string | null;
  group: string | null;
}

export type Derived = { accepted: true; counted: Counted } | { accepted: false; why: string };

/** A batch's own members that apply to each of its events. */
export interface BatchMembers {
  sentAt: number | null;
  context: Json | null;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (s: string): string => s.replace(LONE_SURROGATE, '\ufffd');

function idText(v: unknown): string | null {
  if (typeof v === 'string') return v.length > 0 ? wellFormed(v) : null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

let unique = 0;

/**
 * What the pipeline must make of `call` (type `type`), received in [t0, t1] from `source`.
 * Throws when the interval leaves the outcome open (a generator that put a corrected time too
 * near a day or range boundary).
 */
export function derive(type: string, call: Json, times: CallTimes, batch: BatchMembers, source: string, t0: number, t1: number): Derived {
  const userKey = idText(call.userId) ?? idText(call.anonymousId);
  if (userKey === null) return { accepted: false, why: 'no user' };
  // What each call type needs (Segment's spec): a track its event, a group its groupId, an alias userId and previousId.
  if (type === 'track' && !(typeof call.event === 'string' && call.event !== '')) return { accepted: false, why: 'a track without event' };
  if (type === 'group' && idText(call.groupId) === null) return { accepted: false, why: 'a group without groupId' };
  if (type === 'alias' && (idText(call.userId) === null || idText(call.previousId) === null)) return { accepted: false, why: 'an alias without userId or previousId' };
  const sentAt = times.sentAt ?? batch.sentAt;
  let lo: number;
  let hi: number;
  if (times.ts === null) [lo, hi] = [t0, t1];
  else if (sentAt === null) [lo, hi] = [times.ts, times.ts];
  else [lo, hi] = [t0 - (sentAt - times.ts), t1 - (sentAt - times.ts)];
  const storable = (ms: number) => ms >= STORABLE_FROM && ms < STORABLE_END;
  if (storable(lo) !== storable(hi)) throw new Error(`the time of ${JSON.stringify(call).slice(0, 200)} straddles the storable range's end`);
  if (!storable(lo)) return { accepted: false, why: 'time out of range' };
  if (sentAt !== null && !storable(sentAt)) return { accepted: false, why: 'sentAt out of range' };
  const inRollups = (ms: number) => ms >= ROLLUP_FROM && ms < ROLLUP_END;
  if (inRollups(lo) !== inRollups(hi) || utcDay(lo) !== utcDay(hi)) throw new Error(`the day of ${JSON.stringify(call).slice(0, 200)} is not decided: ${lo}..${hi}`);
  const day = inRollups(lo) ? utcDay(lo) : null;

  const props = isObject(call.properties) ? call.properties : null;
  let category: string | null = null;
  if (props !== null && typeof props.category === 'string' && props.category !== '') category = wellFormed(props.category);
  if (category === null && (type === 'page' || type === 'screen') && typeof call.category === 'string' && call.category !== '') category = wellFormed(call.category);

  let group: string | null = null;
  if (type === 'group') group = idText(call.groupId);
  else {
    const context = { ...(batch.context ?? {}), ...(isObject(call.context) ? call.context : {}) };
    group = idText(context.groupId);
  }
  const messageId = idText(call.messageId);
  return {
    accepted: true,
    counted: {
      identity: messageId === null ? `\u0000generated-${unique++}` : `${userKey}\u0000${messageId}`,
      userKey,
      source,
      day,
      type,
      event: type === 'track' ? wellFormed(call.event as string) : '',
      category,
      group,
    },
  };
}

export type Dimension = 'event' | 'category' | 'group';

/** A rollup row as GET /v1/rollups/daily answers it (by=event also has `type`). */
export interface ApiRow {
  day: string;
  type?: string;
  key: string;
  events: number;
  users: number;
}

/** A row of a rollup table or _v view: per source, with the table's own key column(s). */
export interface TableRow {
  day: string;
  source: string;
  keys: string[];
  events: number;
  users: number;
}

const keysOf = (c: Counted, by: Dimension): string[] | null =>
  by === 'event' ? [c.type, c.event] : by === 'category' ? (c.category === null ? null : [c.category]) : c.group === null ? null : [c.group];

/** ClickHouse orders strings by their UTF-8 bytes. */
export function compareText(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function compareParts(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareText(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function aggregate(counted: Iterable<Counted>, by: Dimension, perSource: boolean): { parts: string[]; events: number; users: Set<string> }[] {
  const cells = new Map<string, { parts: string[]; events: number; users: Set<string> }>();
  for (const c of counted) {
    if (c.day === null) continue;
    const keys = keysOf(c, by);
    if (keys === null) continue;
    const parts = perSource ? [c.day, c.source, ...keys] : [c.day, ...keys];
    const id = JSON.stringify(parts);
    let cell = cells.get(id);
    if (cell === undefined) cells.set(id, (cell = { parts, events: 0, users: new Set() }));
    cell.events++;
    cell.users.add(c.userKey);
  }
  return [...cells.values()].sort((a, b) => compareParts(a.parts, b.parts));
}

/** The rows GET /v1/rollups/daily must answer (all sources merged), in its order, for days in [fromDay, toDay). */
export function apiRows(counted: Iterable<Counted>, by: Dimension, fromDay: string | null = null, toDay: string | null = null, source: string | null = null): ApiRow[] {
  const pick = [...counted].filter((c) => (source === null || c.source === source) && c.day !== null && (fromDay === null || c.day >= fromDay) && (toDay === null || c.day < toDay));
  return aggregate(pick, by, false).map(({ parts, events, users }) =>
    by === 'event'
      ? { day: parts[0]!, type: parts[1]!, key: parts[2] === '' ? parts[1]! : parts[2]!, events, users: users.size }
      : { day: parts[0]!, key: parts[1]!, events, users: users.size },
  );
}

/** The rows of a rollup table (merged per key) or its _v view, per source. */
export function tableRows(counted: Iterable<Counted>, by: Dimension): TableRow[] {
  return aggregate(counted, by, true).map(({ parts, events, users }) => ({ day: parts[0]!, source: parts[1]!, keys: parts.slice(2), events, users: users.size }));
}
