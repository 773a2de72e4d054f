// Validates one Segment call and turns it into the EventRecord that goes to Kafka, in one pass.
//
// Hand-written instead of a JSON Schema (ajv) pass followed by a mapping pass: every field is
// read once, checked and copied in the same step, with no second walk over the object and no
// error objects for valid events. It runs for every event; the rules are those of Segment's
// HTTP Tracking API spec:
// - every call needs userId or anonymousId (string, or a number stored as its decimal text);
// - userId, anonymousId and a track's event are at most MAX_ID_LENGTH (8192) characters, the
//   longest the query API takes;
// - track needs `event`; group needs `groupId`; alias needs `userId` and `previousId`;
// - properties, traits and context are objects when present (stored as JSON text; a JsonText
//   from ./jsontext.ts is such an object already in its text form, with the members read here);
// - messageId is the event id (a random UUID when missing);
// - timestamp/sentAt are ISO 8601; timestamp (else originalTimestamp) is corrected for the
//   client's clock skew, timestamp = receivedAt - (sentAt - timestamp), and is receivedAt when
//   both are missing; times must fit ClickHouse's DateTime64(3).
import { randomUUID } from 'node:crypto';
import { isStorableTime, jsonTooDeep, MAX_ID_LENGTH, MAX_JSON_DEPTH, TIME_RANGE_TEXT, type EventRecord, type EventType } from '../schema/index.js';
import { JsonText, jsonTextOf, mayHoldWide, objectOf, overlaid } from './jsontext.js';
import { problem, type EventProblem } from './problems.js';
import { EVENT_TIME, parseIsoTime } from '../common/isotime.js';

export interface NormalizeContext {
  /** Server time the request arrived, Unix ms. */
  receivedAt: number;
  /** Source name of the write key. */
  source: string;
  /** Batch-level sentAt (Unix ms), or null; an event's own sentAt wins. */
  sentAt: number | null;
  /**
   * Batch-level context, merged under each event's own context (Segment's batch semantics): an
   * object, or a JsonText only when it may hold wide integers (mayHoldWide), whose digits the
   * merge then keeps (jsontext.ts overlaid).
   */
  context: object | null;
  /**
   * The caller's address, recorded as context.ip when the event's context has no ip; or null. A
   * function is called only then: the edge's peer address costs a system call, and events sent
   * on behalf of others (server-side SDKs) carry their own ip.
   */
  ip: string | (() => string | null) | null;
  /**
   * The request came from one of Segment's server libraries (by its User-Agent, clientip.ts):
   * Segment fills the caller's address "for client side events only", so `ip` goes only into
   * events that carry `channel`: RudderStack's server SDKs send the same User-Agent (rudder-sdk-
   * python, rudder-sdk-go) and stamp every call with `channel`, and RudderStack's server fills
   * the request's address (its context_ip is context.ip, else request_ip).
   */
  ipNeedsChannel?: boolean;
  /**
   * Calls translated from another vendor's format (src/ingest/formats/) may give `timestamp` and
   * `sentAt` as Unix milliseconds, saving an ISO text round trip per event; Segment's own API
   * takes ISO 8601 text only, so this is false for its endpoints.
   */
  msTimes?: boolean;
  /**
   * false keeps `timestamp` as given, with no clock-skew correction from `sentAt`: history loaded
   * by `trackhouse import` was sent long ago, so its sentAt says nothing about today's clock.
   */
  skew?: boolean;
}

const TYPES: ReadonlySet<string> = new Set<EventType>(['track', 'identify', 'page', 'screen', 'group', 'alias']);

type Json = Record<string, unknown>;

/** A fresh record to be filled by normalizeEvent; reuse it across events. */
export function emptyRecord(): EventRecord {
  return {
    event_id: '',
    type: 'track',
    event: null,
    user_id: null,
    anonymous_id: null,
    timestamp: 0,
    sent_at: null,
    received_at: 0,
    source: '',
    category: null,
    group_id: null,
    name: null,
    previous_id: null,
    properties: '{}',
    traits: '{}',
    context: '{}',
  };
}

const ID_TOO_LONG = {
  userId: `userId is longer than ${MAX_ID_LENGTH} characters`,
  anonymousId: `anonymousId is longer than ${MAX_ID_LENGTH} characters`,
  event: `event is longer than ${MAX_ID_LENGTH} characters`,
};

const TIMESTAMP_RANGE = `timestamp (after clock-skew correction) must be between ${TIME_RANGE_TEXT.replace(' to ', ' and ')}`;
const SENT_AT_RANGE = `sentAt must be between ${TIME_RANGE_TEXT.replace(' to ', ' and ')}`;
/** What a time that cannot be read is refused with: how to write one (parseIsoTime's EVENT_TIME rules). */
export const TIME_EXAMPLE = 'such as 2026-08-01T12:00:00.000Z (or with an offset, +02:00; a time without a zone is UTC)';
/** `name` is text that is not a time (built only for a refusal). */
export const notATime = (name: string): string => `${name} must be an ISO 8601 time ${TIME_EXAMPLE}`;
/** `name` is not text at all (a Unix time as a number, say). */
const notAString = (name: string, value: unknown): string => `${name} must be an ISO 8601 string ${TIME_EXAMPLE}, not ${value === null ? 'null' : `a ${typeof value}`}`;

/** Marker for a field of the wrong type (ids and names). */
const WRONG = Symbol('wrong type');

/** Ids: non-empty strings, or finite numbers as their decimal text; absent/null/'' -> null. */
function idOf(v: unknown): string | null | typeof WRONG {
  if (typeof v === 'string') return v.length > 0 ? v : null;
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return WRONG;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Fills `out` from `raw` and returns null, or returns why the event is invalid (then `out` holds
 * garbage). `fixedType` is the call type of a single-event endpoint; null reads `raw.type`.
 */
export function normalizeEvent(raw: unknown, fixedType: EventType | null, ctx: NormalizeContext, out: EventRecord): EventProblem | null {
  if (!isObject(raw)) return problem('not_an_object', 'an event must be a JSON object');
  let type: EventType;
  if (fixedType !== null) {
    type = fixedType;
  } else {
    const t = raw.type;
    if (typeof t !== 'string' || !TYPES.has(t)) {
      // Said apart: a batch item or import line without a type is the usual mistake.
      const which =
        t === undefined || t === null ? 'type is missing' : typeof t === 'string' ? `type "${t.slice(0, 40)}" is not one we take` : `type is a ${typeof t}, not a string`;
      return problem('unknown_type', `${which}: in a batch or an import every event needs one of track, identify, page, screen, group, alias`);
    }
    type = t as EventType;
  }
  out.type = type;

  const userId = idOf(raw.userId);
  if (userId === WRONG) return problem('invalid_field', 'userId must be a string or a number');
  const anonymousId = idOf(raw.anonymousId);
  if (anonymousId === WRONG) return problem('invalid_field', 'anonymousId must be a string or a number');
  if (userId === null && anonymousId === null) return problem('missing_id', 'userId or anonymousId is required');
  // The query API reads a user's events by these ids; one it could not be asked for is refused here.
  if (userId !== null && userId.length > MAX_ID_LENGTH) return problem('invalid_field', ID_TOO_LONG.userId);
  if (anonymousId !== null && anonymousId.length > MAX_ID_LENGTH) return problem('invalid_field', ID_TOO_LONG.anonymousId);
  out.user_id = userId;
  out.anonymous_id = anonymousId;

  const messageId = idOf(raw.messageId);
  if (messageId === WRONG) return problem('invalid_field', 'messageId must be a string');
  out.event_id = messageId ?? randomUUID();

  out.event = null;
  out.name = null;
  out.previous_id = null;
  let groupId: string | null = null;
  switch (type) {
    case 'track': {
      const e = raw.event;
      if (typeof e !== 'string' || e.length === 0) return problem('missing_field', 'a track call needs event, a non-empty string');
      if (e.length > MAX_ID_LENGTH) return problem('invalid_field', ID_TOO_LONG.event);
      out.event = e;
      break;
    }
    case 'page':
    case 'screen': {
      const name = raw.name;
      if (typeof name === 'string') out.name = name;
      else if (name !== undefined && name !== null) return problem('invalid_field', 'name must be a string');
      break;
    }
    case 'group': {
      const g = idOf(raw.groupId);
      if (g === WRONG) return problem('invalid_field', 'groupId must be a string or a number');
      if (g === null) return problem('missing_field', 'a group call needs groupId');
      groupId = g;
      break;
    }
    case 'alias': {
      if (userId === null) return problem('missing_field', 'an alias call needs userId');
      const prev = idOf(raw.previousId);
      if (prev === WRONG) return problem('invalid_field', 'previousId must be a string or a number');
      if (prev === null) return problem('missing_field', 'an alias call needs previousId');
      out.previous_id = prev;
      break;
    }
    case 'identify':
      break;
  }

  const properties = raw.properties;
  const traits = raw.traits;
  let context = raw.context;
  if (properties !== undefined && properties !== null && !isObject(properties)) {
    return problem('invalid_field', 'properties must be an object');
  }
  if (traits !== undefined && traits !== null && !isObject(traits)) return problem('invalid_field', 'traits must be an object');
  if (context !== undefined && context !== null && !isObject(context)) return problem('invalid_field', 'context must be an object');
  // Through text (overlaid) only when a part may hold a wide integer, whose digits it keeps; the
  // usual merge is one spread. The batch context is a JsonText only when it may (the edge looked
  // once per batch), so its text is not searched again for each event.
  if (ctx.context !== null) context = isObject(context) ? (ctx.context instanceof JsonText || mayHoldWide(context) ? overlaid(ctx.context, context) : { ...objectOf(ctx.context), ...objectOf(context) }) : ctx.context;

  out.category = null;
  if (isObject(properties)) {
    const c = properties.category;
    if (typeof c === 'string' && c.length > 0) out.category = c;
    if (out.name === null && (type === 'page' || type === 'screen') && typeof properties.name === 'string') {
      out.name = properties.name;
    }
  }
  if (out.category === null && (type === 'page' || type === 'screen') && typeof raw.category === 'string' && raw.category !== '') {
    out.category = raw.category;
  }
  if (groupId === null && isObject(context)) {
    const g = idOf(context.groupId);
    if (typeof g === 'string') groupId = g;
  }
  out.group_id = groupId;

  // Times. Without a timestamp, the device's time may come as originalTimestamp (RudderStack's
  // SDKs send that, with sentAt; it is Segment's name for the time its libraries send as
  // timestamp), corrected the same way: timestamp = receivedAt - (sentAt - originalTimestamp).
  let rawTs = raw.timestamp;
  let tsName = 'timestamp';
  if (rawTs === undefined || rawTs === null) {
    rawTs = raw.originalTimestamp;
    tsName = 'originalTimestamp';
  }
  let ts = NaN;
  if (typeof rawTs === 'string') {
    ts = parseIsoTime(rawTs, EVENT_TIME);
    if (Number.isNaN(ts)) return problem('invalid_timestamp', notATime(tsName));
  } else if (ctx.msTimes === true && typeof rawTs === 'number') {
    if (!Number.isFinite(rawTs)) return problem('invalid_timestamp', `${tsName} must be a finite time`);
    // Milliseconds with a fraction (Python's time.time() * 1000) are taken to the millisecond
    // below: the record's times are whole milliseconds (Avro longs).
    ts = Math.floor(rawTs);
  } else if (rawTs !== undefined && rawTs !== null) {
    return problem('invalid_timestamp', notAString(tsName, rawTs));
  }
  let sentAt = ctx.sentAt;
  const rawSent = raw.sentAt;
  if (typeof rawSent === 'string') {
    sentAt = parseIsoTime(rawSent, EVENT_TIME);
    if (Number.isNaN(sentAt)) return problem('invalid_timestamp', notATime('sentAt'));
  } else if (ctx.msTimes === true && typeof rawSent === 'number' && Number.isFinite(rawSent)) {
    sentAt = Math.floor(rawSent);
  } else if (rawSent !== undefined && rawSent !== null) {
    return problem('invalid_timestamp', notAString('sentAt', rawSent));
  }
  const receivedAt = ctx.receivedAt;
  const timestamp = Number.isNaN(ts) ? receivedAt : sentAt === null || ctx.skew === false ? ts : receivedAt - (sentAt - ts);
  if (!isStorableTime(timestamp)) return problem('invalid_timestamp', TIMESTAMP_RANGE);
  if (sentAt !== null && !isStorableTime(sentAt)) return problem('invalid_timestamp', SENT_AT_RANGE);
  out.timestamp = timestamp;
  out.sent_at = sentAt;
  out.received_at = receivedAt;
  out.source = ctx.source;

  // JSON text last: the costliest step, skipped for events already found invalid.
  try {
    // A JsonText (src/ingest/jsontext.ts: an import's line read without building these objects)
    // is its own canonical text.
    out.properties = properties === undefined || properties === null ? '{}' : jsonTextOf(properties);
    out.traits = traits === undefined || traits === null ? '{}' : jsonTextOf(traits);
    out.context = context === undefined || context === null ? '{}' : jsonTextOf(context);
    if (ctx.ip !== null && (ctx.ipNeedsChannel !== true || typeof raw.channel === 'string') && !(isObject(context) && (context instanceof JsonText ? context.hasIp : 'ip' in context))) {
      const ip = typeof ctx.ip === 'string' ? ctx.ip : ctx.ip();
      if (ip !== null) out.context = withIp(out.context, ip);
    }
  } catch {
    // JSON.stringify recurses: only a nesting deeper than the stack allows gets here.
    return problem('invalid_field', TOO_DEEP);
  }
  // Deeper than ClickHouse reads, the whole text would be unreadable there (and null in the
  // query API): refused, so the event is kept, with the reason, in the rejected topic.
  if (jsonTooDeep(out.properties) || jsonTooDeep(out.traits) || jsonTooDeep(out.context)) return problem('invalid_field', TOO_DEEP);
  return null;
}

const TOO_DEEP = `properties, traits or context are nested deeper than ${MAX_JSON_DEPTH} levels, which ClickHouse does not read`;

/**
 * `context` JSON text with an `ip` member first: spliced into the text rather than set on the
 * object, which may be the batch's context shared by all its events, or the client's own.
 */
function withIp(contextJson: string, ip: string): string {
  const member = `"ip":${JSON.stringify(ip)}`;
  return contextJson === '{}' ? `{${member}}` : `{${member},${contextJson.slice(1)}`;
}
