// Mixpanel's ingestion API (`/track`, `/engage`, `/groups`, `/import`) into Segment calls.
//
// Bodies: an event or an array of them, as JSON or as the form `data=<base64 JSON>` (also in the
// query of a GET). The project token in each event's properties (`$token` of an engage or group
// update) is the write key; `/import` may carry it as HTTP Basic auth or `api_key=` instead.
//
// | Mixpanel                                   | Segment call                                            |
// | `$identify`                                | identify: userId = $identified_id, anonymousId = $anon_id |
// | `$create_alias`                            | alias: userId = properties.alias, previousId = distinct_id |
// | `$mp_web_page_view`                        | page, name = current_page_title                         |
// | any other event                            | track: event = the event name                           |
// | engage update (`$distinct_id`, `$set`, ...) | identify: ids as for events ($user_id, $device_id); traits = $set over $set_once; other operations ($add, $unset, ...) as properties |
// | group update (`$group_key`, `$group_id`, `$set`, ...) | group: groupId = $group_id, userId = `$<group_key>_<group_id>` (PostHog's distinct id of a group: updates carry no user); context.groups = {[$group_key]: $group_id}; traits and properties as for engage |
// | distinct_id / $user_id / $device_id        | userId = $user_id, else distinct_id unless it is `$device:...`; anonymousId = $device_id, else that device id |
// | $insert_id                                 | messageId                                               |
// | time (seconds, or ms when over 1e11) / $time | timestamp (Mixpanel sends no send time: not skew-corrected) |
// | mp_lib, $lib_version, $current_url, $referrer, $os, ip | context.library, page, os, ip           |
// | query `ip=0` (formats/index.ts)            | no context.ip from the caller's address (the edge leaves it out) |
// | properties                                 | properties, less `token` (the write key)                |
import { JsonShape, MEMBER, PickedText, overlaid, parseShaped } from '../jsontext.js';
import { MAX_ID_LENGTH } from '../../schema/index.js';
import { Refused, isObject, msTime, str, type Replies, type SegmentCall, type Translation, type VendorReply } from './types.js';

type Json = Record<string, unknown>;
export type MixpanelEndpoint = 'track' | 'engage' | 'groups' | 'import';

/** The members of an event's `properties` the translation below reads (keep in step with it). */
const PROPERTY_READS = [
  'token', 'distinct_id', '$device_id', '$user_id', 'time', '$insert_id', '$identified_id', '$anon_id', 'alias', 'current_page_title',
  'mp_lib', '$lib_version', '$current_url', '$referrer', '$os', 'ip',
];
/** The picked members as an object (JsonShape's pickedOf): the names of PROPERTY_READS, in its order. */
function pickedProps(v: readonly unknown[]): Json {
  return {
    token: v[0], distinct_id: v[1], $device_id: v[2], $user_id: v[3], time: v[4], $insert_id: v[5], $identified_id: v[6], $anon_id: v[7],
    alias: v[8], current_page_title: v[9], mp_lib: v[10], $lib_version: v[11], $current_url: v[12], $referrer: v[13], $os: v[14], ip: v[15],
  };
}
if (Object.entries(pickedProps(PROPERTY_READS.map((_, i) => i))).some(([k, i], j) => k !== PROPERTY_READS[j] || i !== j)) {
  throw new Error('pickedProps does not follow PROPERTY_READS');
}

/**
 * A Mixpanel body (events of /track and /import, updates of /engage) as the edge and the import
 * read it (../jsontext.ts, as PostHog's): an event's `properties` and an update's `$set` /
 * `$set_once` kept as their text (PickedText: the members read here picked, the token left out of
 * what is stored), so a 64-bit integer a server SDK sends (Python's, Java's) is stored as sent,
 * not as the double JSON.parse rounds it to; ids sent as such numbers (a group's `$group_id` too)
 * are read as their digits. A profile export's `$properties` (the import's mixpanel-engage and
 * mixpanel-groups) is kept the same way, also in the entries of a saved answer's `results`.
 */
const MIXPANEL_BODY = new JsonShape(
  [
    'event', 'properties', '$token', '$distinct_id', '$device_id', '$user_id', '$group_key', '$group_id', '$time', '$ip', '$set', '$set_once', '$add',
    '$append', '$union', '$remove', '$unset', '$delete', '$properties', 'results',
  ],
  {
    properties: MEMBER.TEXT, $set: MEMBER.TEXT, $set_once: MEMBER.TEXT, $distinct_id: MEMBER.ID, $device_id: MEMBER.ID, $user_id: MEMBER.ID, $group_id: MEMBER.ID,
    // A profile export's entries (trackhouse import, src/import/exports.ts): `$properties` is the
    // profile's state, stored as traits like `$set`; `results` is the saved Engage answer's list of them.
    $properties: MEMBER.TEXT, results: MEMBER.LIST,
  },
  MEMBER.PARSE,
  true,
  PROPERTY_READS,
  ['token'],
  pickedProps,
  ['distinct_id', '$device_id', '$user_id', '$insert_id', '$identified_id', '$anon_id', 'alias'],
);

/**
 * A Mixpanel body's JSON text read for translateMixpanel: JSON.parse's value with canonical (or
 * wide-integer holding) `properties`, `$set` and `$set_once` objects as PickedText; null when not
 * handled that way (then use JSON.parse).
 */
export function readMixpanelJson(text: string): unknown {
  return parseShaped(text, MIXPANEL_BODY);
}

const DEVICE = '$device:';

function timeOf(v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) return null;
  return msTime(n < 1e11 ? Math.round(n * 1000) : n) ?? null;
}

export function translateMixpanel(value: unknown, endpoint: MixpanelEndpoint): Translation {
  const events = Array.isArray(value) ? value : [value];
  let key: string | undefined;
  const calls: (SegmentCall | Refused)[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const call = endpoint === 'engage' ? mixpanelEngage(e) : endpoint === 'groups' ? mixpanelGroup(e) : mixpanelEvent(e);
    // A refused event's token counts too (as PostHog's api_key does): a body whose every event is
    // invalid is answered with their reasons (and dead-lettered), not 401 "a write key is required".
    if (key === undefined) key = call instanceof Refused ? tokenOf(e) : (call.writeKey as string | undefined);
    calls[i] = call;
  }
  return { key, calls, raw: events };
}

/** The project token an event (`properties.token`) or an update (`$token`) carries, as the translation reads it. */
function tokenOf(e: unknown): string | undefined {
  if (!isObject(e)) return undefined;
  const update = str(e.$token);
  if (update !== undefined) return update;
  const p = e.properties instanceof PickedText ? e.properties.picked : isObject(e.properties) ? e.properties : undefined;
  return p === undefined ? undefined : str(p.token);
}

export function mixpanelEvent(e: unknown): SegmentCall | Refused {
  if (!isObject(e)) return new Refused('not_an_object', 'an event must be a JSON object', 'event', e);
  const name = e.event;
  if (typeof name !== 'string' || name === '') return new Refused('missing_field', 'event is required (a non-empty string)', 'event', e);
  // Read as the edge reads a body (readMixpanelJson), properties are the sender's text: `props`
  // then holds the members read below, and the text is stored as it is (less the token).
  const text = e.properties instanceof PickedText ? e.properties : null;
  let props: Json = text !== null ? text.picked : isObject(e.properties) ? e.properties : {};
  const call: SegmentCall = {};
  const token = str(props.token);
  if (token !== undefined) call.writeKey = token;
  const distinctId = str(props.distinct_id);
  const deviceId = str(props.$device_id) ?? (distinctId?.startsWith(DEVICE) ? distinctId.slice(DEVICE.length) : undefined);
  const userId = str(props.$user_id) ?? (distinctId !== undefined && !distinctId.startsWith(DEVICE) ? distinctId : undefined);
  if (userId === undefined && deviceId === undefined) return new Refused('missing_id', 'properties.distinct_id is required', 'properties.distinct_id', e);
  const time = timeOf(props.time);
  if (time === null) return new Refused('invalid_timestamp', 'properties.time must be Unix seconds or milliseconds', 'properties.time', e);
  if (time !== undefined) call.timestamp = time;
  const insertId = str(props.$insert_id);
  if (insertId !== undefined) call.messageId = insertId;
  if (token !== undefined && text === null) {
    const { token: _t, ...rest } = props;
    props = rest;
  }

  switch (name) {
    case '$identify': {
      call.type = 'identify';
      call.userId = str(props.$identified_id) ?? userId ?? distinctId;
      const anon = str(props.$anon_id) ?? deviceId;
      if (anon !== undefined) call.anonymousId = anon;
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
    case '$mp_web_page_view':
      call.type = 'page';
      if (typeof props.current_page_title === 'string') call.name = props.current_page_title;
      if (userId !== undefined) call.userId = userId;
      if (deviceId !== undefined) call.anonymousId = deviceId;
      break;
    default:
      call.type = 'track';
      call.event = name;
      if (userId !== undefined) call.userId = userId;
      if (deviceId !== undefined) call.anonymousId = deviceId;
  }
  call.properties = text !== null ? text.kept() : props;
  const c: Json = {};
  if (typeof props.mp_lib === 'string') c.library = typeof props.$lib_version === 'string' ? { name: props.mp_lib, version: props.$lib_version } : { name: props.mp_lib };
  if (typeof props.$current_url === 'string') c.page = typeof props.$referrer === 'string' ? { url: props.$current_url, referrer: props.$referrer } : { url: props.$current_url };
  if (typeof props.$os === 'string') c.os = { name: props.$os };
  if (typeof props.ip === 'string') c.ip = props.ip;
  call.context = c;
  return call;
}

const PROFILE_OPS = ['$add', '$append', '$union', '$remove', '$unset', '$delete'] as const;

/** A people (engage) update: `{"$token", "$distinct_id", "$set": {...}, ...}`. */
export function mixpanelEngage(u: unknown): SegmentCall | Refused {
  if (!isObject(u)) return new Refused('not_an_object', 'an update must be a JSON object', 'update', u);
  const distinctId = str(u.$distinct_id);
  if (distinctId === undefined) return new Refused('missing_id', '$distinct_id is required', '$distinct_id', u);
  const call: SegmentCall = { type: 'identify' };
  const token = str(u.$token);
  if (token !== undefined) call.writeKey = token;
  // As for events: mixpanel-browser's updates carry $device_id and, once identified, $user_id
  // beside the distinct id (Mixpanel's simplified ID merge).
  const deviceId = str(u.$device_id) ?? (distinctId.startsWith(DEVICE) ? distinctId.slice(DEVICE.length) : undefined);
  const userId = str(u.$user_id) ?? (distinctId.startsWith(DEVICE) ? undefined : distinctId);
  if (userId !== undefined) call.userId = userId;
  if (deviceId !== undefined) call.anonymousId = deviceId;
  const refused = profileUpdate(u, call);
  if (refused !== undefined) return refused;
  const ip = profileIp(u);
  if (ip !== undefined) call.context = { ip };
  return call;
}

const GROUP_ID_TOO_LONG = `$group_id is longer than ${MAX_ID_LENGTH} characters`;
const GROUP_KEY_AND_ID_TOO_LONG = `$group_key and $group_id are longer than ${MAX_ID_LENGTH - 2} characters together (the group's user id, $<group_key>_<group_id>, is at most ${MAX_ID_LENGTH})`;

/**
 * A group profile update (/groups): `{"$token", "$group_key", "$group_id", "$set": {...}, ...}`,
 * as mixpanel (npm) `groups.set`, mixpanel-browser `get_group(key, id).set` and the Python SDK's
 * `group_set` send it. It is about a group, not a user, and carries no user id: the user id is
 * `$<group_key>_<group_id>`, the distinct id PostHog's server SDKs give a group's own
 * `$groupidentify`, so a group's updates are one key in Kafka (kept in order) and one "user" in
 * the query API, whichever of the two vendors' SDKs sent them.
 */
export function mixpanelGroup(u: unknown): SegmentCall | Refused {
  if (!isObject(u)) return new Refused('not_an_object', 'an update must be a JSON object', 'update', u);
  const groupKey = str(u.$group_key);
  if (groupKey === undefined) return new Refused('missing_field', '$group_key is required (the kind of group, e.g. "company")', '$group_key', u);
  const groupId = str(u.$group_id);
  if (groupId === undefined) return new Refused('missing_id', '$group_id is required (the group\'s id, a string or a number)', '$group_id', u);
  // The user id below is the longest id normalizeEvent takes: a refusal names the fields sent, not `userId`.
  if (groupId.length > MAX_ID_LENGTH) return new Refused('invalid_field', GROUP_ID_TOO_LONG, '$group_id', u);
  if (groupKey.length + groupId.length + 2 > MAX_ID_LENGTH) return new Refused('invalid_field', GROUP_KEY_AND_ID_TOO_LONG, '$group_key', u);
  const call: SegmentCall = { type: 'group', groupId, userId: `$${groupKey}_${groupId}` };
  const token = str(u.$token);
  if (token !== undefined) call.writeKey = token;
  const refused = profileUpdate(u, call);
  if (refused !== undefined) return refused;
  const context: Json = { groups: { [groupKey]: groupId } };
  const ip = profileIp(u);
  if (ip !== undefined) context.ip = ip;
  call.context = context;
  return call;
}

/**
 * What engage and group updates share: traits = `$set` over `$set_once` (kept as text by
 * readMixpanelJson, merged keeping a wide integer's digits), the other operations as properties,
 * and the timestamp from `$time`. Returns the refusal of an unreadable `$time`, else undefined.
 */
function profileUpdate(u: Json, call: SegmentCall): Refused | undefined {
  const set = isObject(u.$set) ? u.$set : undefined;
  const once = isObject(u.$set_once) ? u.$set_once : undefined;
  call.traits = overlaid(once, set) ?? {};
  const props: Json = {};
  for (const op of PROFILE_OPS) if (u[op] !== undefined) props[op] = u[op];
  call.properties = props;
  const time = timeOf(u.$time);
  if (time === null) return new Refused('invalid_timestamp', '$time must be Unix milliseconds', '$time', u);
  if (time !== undefined) call.timestamp = time;
  return undefined;
}

/** An update's `$ip`, unless `"0"`: Mixpanel's "ignore the address" (its clients' way to keep the server's own address off a profile). */
function profileIp(u: Json): string | undefined {
  return typeof u.$ip === 'string' && u.$ip !== '0' ? u.$ip : undefined;
}

// Answers as Mixpanel gives them. /track, /engage and /groups: `1` / `0` as text, or with `verbose=1`
// {"status":1|0,"error":...} (the mixpanel npm client reads both). /import with a JSON body or
// strict=1 (its current API): {"code":200,"num_records_imported":N,"status":1}, and a 400 with
// failed_records; the legacy form /import answers like /track.
const text = (status: number, body: string): VendorReply => ({ status, contentType: 'text/plain', body });
const json = (status: number, body: unknown): VendorReply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

export function mixpanelReplies(style: 'plain' | 'verbose' | 'import'): Replies {
  return {
    done(o) {
      if (style === 'import') {
        if (o.rejected === null) return json(200, { code: 200, num_records_imported: o.accepted, status: 1 });
        return json(400, {
          code: 400,
          error: 'some data points in the request failed validation',
          failed_records: o.rejected.map((r) => ({ index: r.index, field: r.field ?? '', message: r.error })),
          num_records_imported: o.accepted,
          status: 0,
        });
      }
      if (o.rejected === null) return style === 'verbose' ? json(200, { status: 1, error: null }) : text(200, '1');
      const first = o.rejected[0]!;
      const error = `${o.rejected.length} of ${o.total} events are invalid (event ${first.index}: ${first.error}); the other ${o.accepted} were accepted`;
      return style === 'verbose' ? json(400, { status: 0, error }) : text(400, '0');
    },
    refused(status, _code, message) {
      if (style === 'plain') return text(status, '0');
      return style === 'import' ? json(status, { code: status, error: message, status: 0 }) : json(status, { status: 0, error: message });
    },
  };
}
