// PostHog's capture API (`/e`, `/i/v0/e`, `/capture`, `/batch`, `/track`, `/engage`) into Segment calls.
//
// Bodies: one event, an array of events, or `{"api_key", "batch": [...], "sent_at"}` (posthog-node).
// The token (`api_key`, `token` or `$token`, at the top or in an event's properties) is the write key.
//
// | PostHog                                  | Segment call                                          |
// | `$identify`                              | identify: userId = distinct_id, anonymousId = $anon_distinct_id |
// | `$create_alias`                          | alias: userId = properties.alias, previousId = distinct_id |
// | `$groupidentify`                         | group: groupId = $group_key, traits = $group_set      |
// | `$pageview` / `$screen`                  | page (name = title) / screen (name = $screen_name)    |
// | any other event                          | track: event = the event name                         |
// | distinct_id                              | userId; anonymousId when the event says it is anonymous ($is_identified false, or it equals $device_id) |
// | $device_id of an identified user's event | anonymousId beside userId (the device's id, which posthog-js keeps across identify) |
// | `$set` / `$set_once` (top or properties) | traits ($set over $set_once)                          |
// | uuid                                     | messageId (the event id, so resends are deduplicated) |
// | timestamp + sent_at / offset             | timestamp, corrected for skew: receivedAt - (sent_at - timestamp), or receivedAt - offset (sent_at: the body's, else the query's ms, formats/index.ts) |
// | $lib, $lib_version (else beside event), $current_url, $pathname, $referrer, $raw_user_agent, $ip, $groups | context.library, page, userAgent, ip, groupId + groups |
// | properties                               | properties, less `token` (the write key) and the `$set`s (now traits) |
// | distinct_id / $anon_distinct_id "$posthog_cookieless" (cookieless mode) | the visitor's id of the day, given by the edge (cookieless.ts); $ip, $raw_user_agent, $cookieless_extra not kept |
import { EVENT_TIME, parseIsoTime } from '../../common/isotime.js';
import { JsonShape, JsonText, MEMBER, PickedText, objectOf, overlaid, parseShaped, quote, quotePlain, stringify } from '../jsontext.js';
import { COOKIELESS, COOKIELESS_SENTINEL, takeCookielessInput, type CookielessInput } from './cookieless.js';
import { derivedEventId } from './derived-id.js';
import { Refused, isObject, msTime, str, type SegmentCall, type TranslateOptions, type Translation, type Replies, type VendorReply } from './types.js';

type Json = Record<string, unknown>;

const KEY_FIELDS = ['api_key', 'token', '$token'] as const;

function keyOf(o: Json): string | undefined {
  for (const f of KEY_FIELDS) {
    const v = o[f];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** The members of `properties` the translation below reads (keep in step with it). */
const PROPERTY_READS = [
  'distinct_id', '$set', '$set_once', 'token', 'api_key', '$token', '$is_identified', '$device_id', '$anon_distinct_id', 'alias',
  '$group_key', '$group_set', 'title', '$title', '$screen_name', '$lib', '$lib_version', '$current_url', '$pathname', '$referrer',
  '$raw_user_agent', '$ip', '$groups',
];
/** The picked members as an object (JsonShape's pickedOf): the names of PROPERTY_READS, in its order. */
function pickedProps(v: readonly unknown[]): Json {
  return {
    distinct_id: v[0], $set: v[1], $set_once: v[2], token: v[3], api_key: v[4], $token: v[5], $is_identified: v[6], $device_id: v[7],
    $anon_distinct_id: v[8], alias: v[9], $group_key: v[10], $group_set: v[11], title: v[12], $title: v[13], $screen_name: v[14],
    $lib: v[15], $lib_version: v[16], $current_url: v[17], $pathname: v[18], $referrer: v[19], $raw_user_agent: v[20], $ip: v[21],
    $groups: v[22],
  };
}
if (Object.entries(pickedProps(PROPERTY_READS.map((_, i) => i))).some(([k, i], j) => k !== PROPERTY_READS[j] || i !== j)) {
  throw new Error('pickedProps does not follow PROPERTY_READS');
}

/** Left out of the stored properties: the write key, and the `$set`s (they become traits). */
const PROPERTY_DROPS = ['token', 'api_key', '$set', '$set_once'];

/**
 * A capture body as the edge reads it (../jsontext.ts): events' `properties` kept as their text
 * with the members read here picked (PickedText), so the stored properties are the sender's own
 * text (less the dropped members) instead of JSON.parse + JSON.stringify. A body with a top-level
 * `events` array (Amplitude's, on the shared /batch) is not read this way.
 */
const CAPTURE_BODY = new JsonShape(
  ['event', 'distinct_id', 'properties', 'uuid', 'timestamp', 'sent_at', 'offset', '$set', '$set_once', 'api_key', 'token', '$token', 'batch', 'data', 'historical_migration', 'type', 'library', 'events'],
  // `$set` / `$set_once` beside `event` (as posthog-python and posthog-go send them) kept as text
  // too: they are stored as traits, 64-bit integers as sent.
  { distinct_id: MEMBER.ID, properties: MEMBER.TEXT, $set: MEMBER.TEXT, $set_once: MEMBER.TEXT, batch: MEMBER.LIST, data: MEMBER.LIST, events: MEMBER.BAIL },
  MEMBER.PARSE,
  true,
  PROPERTY_READS,
  PROPERTY_DROPS,
  pickedProps,
  [],
  // ... and inside properties (posthog-java, posthog-js), picked as text when they hold such integers.
  ['$set', '$set_once', '$group_set'],
);

/**
 * A capture body's JSON text read for translatePosthog: JSON.parse's value, with canonical
 * `properties` objects as PickedText; null when not handled that way (then use JSON.parse).
 */
export function readPosthogJson(text: string): unknown {
  return parseShaped(text, CAPTURE_BODY);
}

/** The members of an event's properties the translation reads (picked from its text, or the object). */
function propsOf(e: Json): Json {
  const p = e.properties;
  if (p instanceof PickedText) return p.picked;
  if (p instanceof JsonText) return objectOf(p);
  return isObject(p) ? p : {};
}

/** The event list of a capture body, or null when there is none. */
export function posthogEvents(value: unknown): unknown[] | null {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return null;
  if (Array.isArray(value.batch)) return value.batch;
  if (Array.isArray(value.data)) return value.data;
  return typeof value.event === 'string' || value.event !== undefined ? [value] : null;
}

/**
 * Translates a capture body. `sentAt` is the client's send time when the body does not say
 * (posthog-js's `_=<ms>` query parameter).
 */
export function translatePosthog(value: unknown, opts: TranslateOptions, sentAtMs?: number): Translation {
  const events = posthogEvents(value) ?? [];
  let key = isObject(value) ? keyOf(value) : undefined;
  let sentAt: string | number | undefined;
  let historical = false;
  if (isObject(value)) {
    if (typeof value.sent_at === 'string') {
      sentAt = value.sent_at;
      // Parsed once for the batch rather than by normalizeEvent for each event (an invalid one
      // stays text, for normalizeEvent's own refusal).
      const ms = opts.prepared === true ? parseIsoTime(sentAt, EVENT_TIME) : NaN;
      if (!Number.isNaN(ms)) sentAt = ms;
    }
    historical = value.historical_migration === true;
  }
  if (sentAt === undefined && sentAtMs !== undefined) sentAt = msTime(sentAtMs);
  const skew = opts.skew && !historical;
  const calls: (SegmentCall | Refused)[] = new Array(events.length);
  const seen: CookielessSeen = { cookieless: false };
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (key === undefined && isObject(e)) key = keyOf(e) ?? (isObject(e.properties) ? keyOf(propsOf(e)) : undefined);
    calls[i] = posthogEvent(e, opts.receivedAt, skew ? sentAt : undefined, seen);
  }
  return seen.cookieless ? { key, calls, raw: events, cookieless: true } : { key, calls, raw: events };
}

/** Set by posthogEvent when a call of the request is cookieless (so the edge looks for them only then). */
export interface CookielessSeen {
  cookieless: boolean;
}

/** A call of a cookieless event: its sentinel ids are replaced by the edge (CookielessIds) with these inputs. */
export type CookielessCall = SegmentCall & { [COOKIELESS]?: CookielessInput };

/** One capture event into a Segment call. `sentAt`: the batch's send time when skew is corrected. */
export function posthogEvent(e: unknown, receivedAt: number, sentAt: string | number | undefined, seen?: CookielessSeen): SegmentCall | Refused {
  if (!isObject(e)) return new Refused('not_an_object', 'an event must be a JSON object', 'event', e);
  const name = e.event;
  if (typeof name !== 'string' || name === '') return new Refused('missing_field', 'event is required (a non-empty string)', 'event', e);
  // Read as the edge reads a body (readPosthogJson), properties are the sender's text: `props`
  // then holds the members read below, and the text is stored as it is (less the dropped ones).
  let text = e.properties instanceof PickedText ? e.properties : null;
  let props: Json = propsOf(e);
  const distinctId = str(e.distinct_id) ?? str(props.distinct_id) ?? str(e.$distinct_id);
  if (distinctId === undefined) return new Refused('missing_id', 'distinct_id is required', 'distinct_id', e);
  // posthog-js in cookieless mode (and its $identify's $anon_distinct_id): the visitor's id is
  // made at the edge from the request. Such an event's properties are read whole (its hash inputs
  // come out of them); every other event pays these two compares.
  let cookieless: CookielessInput | undefined;
  if (distinctId === COOKIELESS_SENTINEL || props.$anon_distinct_id === COOKIELESS_SENTINEL) {
    props = text !== null ? objectOf(text) : { ...props };
    text = null;
    cookieless = takeCookielessInput(props);
  }

  const call: SegmentCall = {};
  const uuid = str(e.uuid) ?? derivedEventId(distinctId, name, e.timestamp);
  if (uuid !== undefined) call.messageId = uuid;
  if (typeof e.offset === 'number' && Number.isFinite(e.offset)) {
    call.timestamp = msTime(receivedAt - e.offset);
  } else if (e.timestamp !== undefined && e.timestamp !== null) {
    call.timestamp = typeof e.timestamp === 'number' ? msTime(e.timestamp) ?? e.timestamp : e.timestamp;
    const own = typeof e.sent_at === 'string' ? e.sent_at : sentAt;
    if (own !== undefined) call.sentAt = own;
  }

  // Traits: $set over $set_once, from the event or its properties.
  const set = isObject(e.$set) ? e.$set : isObject(props.$set) ? props.$set : undefined;
  const setOnce = isObject(e.$set_once) ? e.$set_once : isObject(props.$set_once) ? props.$set_once : undefined;
  // Either may be kept as its text (readPosthogJson): merged keeping a 64-bit integer's digits.
  if (set !== undefined || setOnce !== undefined) call.traits = overlaid(setOnce, set);
  if (text === null && ('token' in props || '$set' in props || '$set_once' in props || 'api_key' in props)) {
    const { token: _t, api_key: _k, $set: _s, $set_once: _o, ...rest } = props;
    props = rest;
  }

  const anonymous = props.$is_identified === false || (props.$device_id !== undefined && props.$device_id === distinctId) || cookieless !== undefined;
  // The device's own id, which posthog-js keeps across identify (Segment's anonymousId): an
  // identified user's events carry it as $device_id beside their distinct_id.
  const deviceId = anonymous ? undefined : str(props.$device_id);
  switch (name) {
    case '$identify': {
      call.type = 'identify';
      call.userId = distinctId;
      const anon = str(props.$anon_distinct_id) ?? deviceId;
      if (anon !== undefined && anon !== distinctId) call.anonymousId = anon;
      break;
    }
    case '$create_alias': {
      const alias = str(props.alias);
      if (alias === undefined) return new Refused('missing_field', '$create_alias needs properties.alias', 'properties.alias', e);
      call.type = 'alias';
      call.userId = alias;
      call.previousId = distinctId;
      break;
    }
    case '$groupidentify': {
      const groupKey = str(props.$group_key);
      if (groupKey === undefined) return new Refused('missing_field', '$groupidentify needs properties.$group_key', 'properties.$group_key', e);
      call.type = 'group';
      call.groupId = groupKey;
      if (isObject(props.$group_set)) call.traits = props.$group_set;
      call[anonymous ? 'anonymousId' : 'userId'] = distinctId;
      break;
    }
    case '$pageview':
      call.type = 'page';
      if (typeof props.title === 'string') call.name = props.title;
      else if (typeof props.$title === 'string') call.name = props.$title;
      call[anonymous ? 'anonymousId' : 'userId'] = distinctId;
      break;
    case '$screen':
      call.type = 'screen';
      if (typeof props.$screen_name === 'string') call.name = props.$screen_name;
      call[anonymous ? 'anonymousId' : 'userId'] = distinctId;
      break;
    default:
      call.type = 'track';
      call.event = name;
      call[anonymous ? 'anonymousId' : 'userId'] = distinctId;
  }
  if (deviceId !== undefined && deviceId !== distinctId && call.type !== 'identify' && call.type !== 'alias') call.anonymousId = deviceId;
  // The library: from properties, as PostHog's SDKs send it, else from beside `event`, where
  // posthog-java 1.x writes its `$lib` (and no version).
  const lib = props.$lib === undefined && e.$lib !== undefined ? e : props;
  if (text !== null) {
    call.properties = text.kept();
    call.context = posthogContextText(props, lib, text.plain ? quotePlain : quote);
  } else {
    call.properties = props;
    call.context = posthogContext(props, lib);
  }
  if (cookieless !== undefined) {
    (call as CookielessCall)[COOKIELESS] = cookieless;
    if (seen !== undefined) seen.cookieless = true;
  }
  return call;
}

/** The context of an event with properties `p`; `$lib` and `$lib_version` are read from `lib`. */
function posthogContext(p: Json, lib: Json): Json {
  const c: Json = {};
  if (typeof lib.$lib === 'string') c.library = typeof lib.$lib_version === 'string' ? { name: lib.$lib, version: lib.$lib_version } : { name: lib.$lib };
  if (typeof p.$current_url === 'string') {
    const page: Json = { url: p.$current_url };
    if (typeof p.$pathname === 'string') page.path = p.$pathname;
    if (typeof p.$referrer === 'string') page.referrer = p.$referrer;
    if (typeof p.title === 'string') page.title = p.title;
    c.page = page;
  }
  if (typeof p.$raw_user_agent === 'string') c.userAgent = p.$raw_user_agent;
  if (typeof p.$ip === 'string') c.ip = p.$ip;
  if (isObject(p.$groups)) {
    c.groups = p.$groups;
    for (const k in p.$groups) {
      const g = str(p.$groups[k]);
      if (g !== undefined) {
        c.groupId = g;
        break;
      }
    }
  }
  return c;
}

/**
 * The members of posthogContext's object before `ip` (library, page, userAgent) as text, joined
 * by commas, for the last event's values: a client's events repeat them, and the text is then
 * reused, already flat from its first write (a string built of many pieces is copied into one on
 * its first write). `ip` and `groups` vary per event on a server-side SDK, so are not in it.
 */
class ContextHead {
  private lib: unknown;
  private version: unknown;
  private url: unknown;
  private path: unknown;
  private referrer: unknown;
  private title: unknown;
  private ua: unknown;
  /** For the values above (all undefined: no member). */
  private text = '';

  of(p: Json, from: Json, q: (v: string) => string): string {
    const { $lib: lib, $lib_version: version } = from;
    const { $current_url: url, $pathname: path, $referrer: referrer, title, $raw_user_agent: ua } = p;
    if (lib === this.lib && version === this.version && url === this.url && path === this.path && referrer === this.referrer && title === this.title && ua === this.ua) return this.text;
    let t = '';
    if (typeof lib === 'string') t = `"library":{"name":${q(lib)}${typeof version === 'string' ? `,"version":${q(version)}` : ''}}`;
    if (typeof url === 'string') {
      let page = `"url":${q(url)}`;
      if (typeof path === 'string') page += `,"path":${q(path)}`;
      if (typeof referrer === 'string') page += `,"referrer":${q(referrer)}`;
      if (typeof title === 'string') page += `,"title":${q(title)}`;
      t += `${t === '' ? '' : ','}"page":{${page}}`;
    }
    if (typeof ua === 'string') t += `${t === '' ? '' : ','}"userAgent":${q(ua)}`;
    this.lib = lib;
    this.version = version;
    this.url = url;
    this.path = path;
    this.referrer = referrer;
    this.title = title;
    this.ua = ua;
    this.text = t;
    return t;
  }
}

const HEAD = new ContextHead();

/**
 * posthogContext's object as the JsonText JSON.stringify would write for it, built as text: the
 * members are few and known, and a fresh object plus its stringify cost more than the string
 * itself (measured: ~0.55 us of ~5 per event). `q` writes a picked string as JSON.stringify does.
 */
function posthogContextText(p: Json, lib: Json, q: (v: string) => string): JsonText {
  let t = HEAD.of(p, lib, q);
  const hasIp = typeof p.$ip === 'string';
  if (hasIp) t = `${t}${t === '' ? '' : ','}"ip":${q(p.$ip as string)}`;
  let groupId: string | undefined;
  if (isObject(p.$groups)) {
    t += `${t === '' ? '' : ','}"groups":${stringify(p.$groups)}`;
    for (const k in p.$groups) {
      groupId = str(p.$groups[k]);
      if (groupId !== undefined) {
        t += `,"groupId":${quote(groupId)}`;
        break;
      }
    }
  }
  return new JsonText(`{${t}}`, undefined, undefined, groupId, hasIp);
}

// Answers as PostHog's capture service gives them: 200 {"status":1}; errors
// {"type","code","detail","attr"} (posthog-node retries 408, 429 and 5xx only).
const json = (status: number, body: unknown): VendorReply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });
const OK: VendorReply = { status: 200, contentType: 'application/json', body: '{"status":1}' };

export const posthogReplies: Replies = {
  done(o) {
    if (o.rejected === null) return OK;
    const n = o.rejected.length;
    return json(400, {
      type: 'validation_error',
      code: 'invalid_payload',
      detail: `${n} of ${o.total} events are invalid and were not accepted; the other ${o.accepted} were`,
      attr: null,
      accepted: o.accepted,
      rejected: o.rejected,
    });
  },
  refused(status, code, message) {
    const type = status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'validation_error';
    return json(status, { type, code: code === 'unknown_write_key' || code === 'missing_write_key' ? 'invalid_api_key' : code, detail: message, attr: null });
  },
};

/** What a token in the path that is not a write key gets: the config routes and /array/<token>/array.js. */
export const POSTHOG_UNKNOWN_TOKEN = posthogReplies.refused(401, 'unknown_write_key', 'the project token in the path is not a known write key');
