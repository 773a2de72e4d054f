// Amplitude's HTTP V2 API (`POST /2/httpapi`) and Batch API (`POST /batch`) into Segment calls.
//
// Body: `{"api_key", "events": [...], "options": {...}, "client_upload_time"?}`; `api_key` is the write key.
//
// | Amplitude                               | Segment call                                              |
// | event_type `$identify`                  | identify, traits from user_properties                     |
// | event_type `$groupidentify`             | group: groupId = first value of `groups`, traits = group_properties |
// | event_type `[Amplitude] Page Viewed`    | page, name = event_properties["[Amplitude] Page Title"]   |
// | any other event_type                    | track: event = event_type                                 |
// | user_id / device_id                     | userId / anonymousId (one is required)                    |
// | insert_id                               | messageId (Amplitude's dedup key is the event id)         |
// | time (Unix ms) + client_upload_time     | timestamp, corrected for skew as Segment does             |
// | event_properties (+ price, quantity, revenue, productId, revenueType) | properties          |
// | user_properties (`$set`/`$setOnce` or plain) | traits ($set over $setOnce; other operations kept as they are) |
// | groups                                  | context.groups, context.groupId (first value)             |
// | app_version, platform, os_*, device_*, carrier, country, region, city, location_*, language, ip, user_agent, library, session_id, event_id | context.app, platform, os, device, network, location, locale, ip, userAgent, library, sessionId, eventNumber |
// A request with any invalid event is refused whole (400, the events listed by field), as
// Amplitude does: its SDKs then drop the listed events and resend the others.
import { JsonShape, JsonText, MEMBER, PickedText, mergedText, objectOf, parseShaped } from '../jsontext.js';
import { Refused, isObject, msTime, str, type Replies, type SegmentCall, type TranslateOptions, type Translation, type VendorReply } from './types.js';

type Json = Record<string, unknown>;

export const PAGE_VIEWED = '[Amplitude] Page Viewed';
const PAGE_TITLE = '[Amplitude] Page Title';

/** The picked members of an event's properties (the page title), as an object (JsonShape's pickedOf). */
function pickedProps(v: readonly unknown[]): Json {
  return { '[Amplitude] Page Title': v[0] };
}

/**
 * An Amplitude body as the edge and the import read it (../jsontext.ts, as PostHog's): each
 * event's `event_properties`, `user_properties` and `group_properties` kept as their text, so a
 * 64-bit integer a server SDK sends (Python's, Java's) is stored as sent, not as the double
 * JSON.parse rounds it to; user_id, device_id and insert_id sent as such numbers are read as
 * their digits. The members names are listed for speed (see JsonShape); any other is parsed.
 */
const AMPLITUDE_BODY = new JsonShape(
  [
    'api_key', 'events', 'options', 'client_upload_time', 'event_type', 'user_id', 'device_id', 'insert_id', 'time', 'event_properties',
    'user_properties', 'groups', 'group_properties', 'price', 'quantity', 'revenue', 'productId', 'revenueType', 'library', 'app_version',
    'platform', 'os_name', 'os_version', 'device_brand', 'device_manufacturer', 'device_model', 'carrier', 'country', 'region', 'city',
    'location_lat', 'location_lng', 'language', 'ip', 'user_agent', 'session_id', 'event_id', 'idfa', 'adid', 'plan', 'ingestion_metadata',
    'version_name', 'partner_id', 'android_id', 'dma',
  ],
  {
    events: MEMBER.LIST, event_properties: MEMBER.TEXT, user_properties: MEMBER.TEXT, group_properties: MEMBER.TEXT,
    user_id: MEMBER.ID, device_id: MEMBER.ID, insert_id: MEMBER.ID,
  },
  MEMBER.PARSE,
  true,
  [PAGE_TITLE],
  [],
  pickedProps,
);

/** user_properties with operations, read again from its text: `$set` and `$setOnce` kept as text. */
const USER_OPS = new JsonShape(['$set', '$setOnce'], { $set: MEMBER.TEXT, $setOnce: MEMBER.TEXT }, MEMBER.PARSE, false);

/**
 * An Amplitude body's JSON text read for translateAmplitude: JSON.parse's value with the events'
 * canonical (or wide-integer holding) property objects as PickedText; null when not handled that
 * way (then use JSON.parse).
 */
export function readAmplitudeJson(text: string): unknown {
  return parseShaped(text, AMPLITUDE_BODY);
}

/** The events of a body (`{"events": [...]}`), one event object, or an array of them (import). */
export function amplitudeEvents(value: unknown): unknown[] | null {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return null;
  if (Array.isArray(value.events)) return value.events;
  return value.event_type !== undefined ? [value] : null;
}

export function translateAmplitude(value: unknown, opts: TranslateOptions): Translation {
  const events = amplitudeEvents(value) ?? [];
  const key = isObject(value) ? str(value.api_key) : undefined;
  const sentAt = opts.skew && isObject(value) && typeof value.client_upload_time === 'string' ? value.client_upload_time : undefined;
  const calls: (SegmentCall | Refused)[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) calls[i] = amplitudeEvent(events[i], sentAt);
  return { key, calls, raw: events };
}

export function amplitudeEvent(e: unknown, sentAt: string | undefined): SegmentCall | Refused {
  if (!isObject(e)) return new Refused('not_an_object', 'an event must be a JSON object', 'event', e);
  const type = e.event_type;
  if (typeof type !== 'string' || type === '') return new Refused('missing_field', 'event_type is required', 'event_type', e);
  const userId = str(e.user_id);
  const deviceId = str(e.device_id);
  if (userId === undefined && deviceId === undefined) return new Refused('missing_id', 'user_id or device_id is required', 'device_id', e);
  if (e.user_id !== undefined && e.user_id !== null && userId === undefined && typeof e.user_id !== 'string') {
    return new Refused('invalid_field', 'user_id must be a string', 'user_id', e);
  }
  const call: SegmentCall = {};
  if (userId !== undefined) call.userId = userId;
  if (deviceId !== undefined) call.anonymousId = deviceId;
  const insertId = str(e.insert_id);
  if (insertId !== undefined) call.messageId = insertId;
  if (e.time !== undefined && e.time !== null) {
    const t = typeof e.time === 'number' ? msTime(e.time) : undefined;
    if (t === undefined) return new Refused('invalid_timestamp', 'time must be Unix milliseconds', 'time', e);
    call.timestamp = t;
    if (sentAt !== undefined) call.sentAt = sentAt;
  }

  // Read as the edge reads a body (readAmplitudeJson), event_properties is the sender's text:
  // `props` then holds the page title, and the text is stored as it is.
  const text = e.event_properties instanceof PickedText ? e.event_properties : null;
  let props: Json = text !== null ? text.picked : isObject(e.event_properties) ? e.event_properties : {};
  let stored: Json | JsonText = text !== null ? text.kept() : props;
  if (e.revenue !== undefined || e.price !== undefined || e.productId !== undefined) {
    const revenue: Json = {};
    for (const f of ['price', 'quantity', 'revenue', 'productId', 'revenueType']) if (e[f] !== undefined) revenue[f] = e[f];
    if (text !== null) {
      stored = mergedText([text, revenue]);
      props = { ...props, ...revenue };
    } else {
      props = { ...props, ...revenue };
      stored = props;
    }
  }
  const traits = userTraits(e.user_properties);
  if (traits !== undefined) call.traits = traits;

  const groups = isObject(e.groups) ? e.groups : undefined;
  if (type === '$identify') {
    call.type = 'identify';
  } else if (type === '$groupidentify') {
    let groupId: string | undefined;
    if (groups !== undefined) for (const k in groups) if ((groupId = str(Array.isArray(groups[k]) ? (groups[k] as unknown[])[0] : groups[k])) !== undefined) break;
    if (groupId === undefined) return new Refused('missing_field', '$groupidentify needs groups', 'groups', e);
    call.type = 'group';
    call.groupId = groupId;
    const gt = userTraits(e.group_properties);
    if (gt !== undefined) call.traits = gt;
  } else if (type === PAGE_VIEWED) {
    call.type = 'page';
    const title = props[PAGE_TITLE];
    if (typeof title === 'string') call.name = title;
  } else {
    call.type = 'track';
    call.event = type;
  }
  call.properties = stored;
  call.context = amplitudeContext(e, groups);
  return call;
}

/** Whether user_properties holds operations (`$set`, `$setOnce`, ...: a member name starting with `$`). */
function hasOperation(o: Json): boolean {
  for (const k in o) if (k.charCodeAt(0) === 0x24 /* $ */) return true;
  return false;
}

/** `$set` over `$setOnce` when user_properties holds operations; the object itself otherwise. */
function userTraits(up: unknown): Json | JsonText | undefined {
  if (up instanceof JsonText) return userTraitsText(up);
  if (!isObject(up)) return undefined;
  if (!hasOperation(up)) return up;
  const set = isObject(up.$set) ? up.$set : undefined;
  const once = isObject(up.$setOnce) ? up.$setOnce : undefined;
  const rest: Json = { ...once, ...set };
  for (const k in up) if (k !== '$set' && k !== '$setOnce') rest[k] = up[k];
  return rest;
}

/**
 * userTraits of user_properties kept as text (readAmplitudeJson): the text itself when it has no
 * operation; else read again with `$set` and `$setOnce` as text, and merged as userTraits merges
 * them, keeping a wide integer's digits.
 */
function userTraitsText(up: JsonText): Json | JsonText {
  // No `"$` anywhere: no member name starts with `$` (most SDKs' plain user properties).
  if (!up.text.includes('"$')) return up;
  const v = parseShaped(up.text, USER_OPS) as Json | null;
  if (v === null) return userTraits(objectOf(up))!;
  if (!hasOperation(v)) return up;
  const set = isObject(v.$set) ? v.$set : undefined;
  const once = isObject(v.$setOnce) ? v.$setOnce : undefined;
  let rest: Json | undefined;
  for (const k in v) if (k !== '$set' && k !== '$setOnce') (rest ??= {})[k] = v[k];
  // identify's usual body, {"$set": {...}}: the $set text as it is.
  if (set instanceof JsonText && once === undefined && rest === undefined) return set;
  return mergedText([once, set, rest]);
}

function amplitudeContext(e: Json, groups: Json | undefined): Json {
  const c: Json = {};
  if (typeof e.library === 'string') {
    const slash = e.library.lastIndexOf('/');
    c.library = slash > 0 ? { name: e.library.slice(0, slash), version: e.library.slice(slash + 1) } : { name: e.library };
  }
  if (e.app_version !== undefined) c.app = { version: e.app_version };
  if (e.platform !== undefined) c.platform = e.platform;
  if (e.os_name !== undefined || e.os_version !== undefined) c.os = { name: e.os_name, version: e.os_version };
  if (e.device_brand !== undefined || e.device_manufacturer !== undefined || e.device_model !== undefined || e.idfa !== undefined || e.adid !== undefined) {
    c.device = { brand: e.device_brand, manufacturer: e.device_manufacturer, model: e.device_model, advertisingId: e.idfa ?? e.adid };
  }
  if (e.carrier !== undefined) c.network = { carrier: e.carrier };
  if (e.country !== undefined || e.region !== undefined || e.city !== undefined || e.location_lat !== undefined) {
    c.location = { country: e.country, region: e.region, city: e.city, latitude: e.location_lat, longitude: e.location_lng };
  }
  if (e.language !== undefined) c.locale = e.language;
  if (typeof e.ip === 'string' && e.ip !== '$remote') c.ip = e.ip;
  if (typeof e.user_agent === 'string') c.userAgent = e.user_agent;
  if (e.session_id !== undefined) c.sessionId = e.session_id;
  if (e.event_id !== undefined) c.eventNumber = e.event_id;
  if (groups !== undefined) {
    c.groups = groups;
    for (const k in groups) {
      const v = groups[k];
      const g = str(Array.isArray(v) ? v[0] : v);
      if (g !== undefined) {
        c.groupId = g;
        break;
      }
    }
  }
  return c;
}

// Answers as Amplitude gives them. Its SDKs read a 400's body: "Invalid API key" or
// `missing_field` drops the whole request; otherwise the events listed under
// events_with_invalid_fields / events_with_missing_fields are dropped and the rest are resent
// (so a 400 must mean nothing of the request was taken). A 401 would be retried like a 5xx, so an
// unknown key gets Amplitude's own 400 "Invalid API key".
const json = (status: number, body: unknown): VendorReply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

export const amplitudeReplies: Replies = {
  done(o) {
    if (o.rejected === null) {
      return json(200, { code: 200, events_ingested: o.accepted, payload_size_bytes: o.bodyBytes, server_upload_time: o.receivedAt });
    }
    const invalid: Record<string, number[]> = {};
    const missing: Record<string, number[]> = {};
    for (const r of o.rejected) {
      const into = r.code === 'missing_field' || r.code === 'missing_id' ? missing : invalid;
      (into[r.field ?? 'event'] ??= []).push(r.index);
    }
    return json(400, {
      code: 400,
      error: `${o.rejected.length} of ${o.total} events are invalid; nothing of this request was ingested`,
      events_with_invalid_fields: invalid,
      events_with_missing_fields: missing,
      events_with_invalid_id_lengths: {},
      silenced_events: [],
    });
  },
  refused(status, code, message) {
    if (code === 'missing_write_key') return json(400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' });
    if (code === 'unknown_write_key') return json(400, { code: 400, error: `Invalid API key: ${message}` });
    if (code === 'invalid_body') return json(400, { code: 400, error: message, missing_field: 'events' });
    return json(status, { code: status, error: message });
  },
};
