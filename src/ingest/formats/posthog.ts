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
// | `$set` / `$set_once` (top or properties) | traits ($set over $set_once)                          |
// | uuid                                     | messageId (the event id, so resends are deduplicated) |
// | timestamp + sent_at / offset             | timestamp, corrected for skew: receivedAt - (sent_at - timestamp), or receivedAt - offset |
// | $lib, $lib_version, $current_url, $pathname, $referrer, $raw_user_agent, $ip, $groups | context.library, page, userAgent, ip, groupId + groups |
// | properties                               | properties, less `token` (the write key) and the `$set`s (now traits) |
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
    if (typeof value.sent_at === 'string') sentAt = value.sent_at;
    historical = value.historical_migration === true;
  }
  if (sentAt === undefined && sentAtMs !== undefined) sentAt = msTime(sentAtMs);
  const skew = opts.skew && !historical;
  const calls: (SegmentCall | Refused)[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (key === undefined && isObject(e)) key = keyOf(e) ?? (isObject(e.properties) ? keyOf(e.properties) : undefined);
    calls[i] = posthogEvent(e, opts.receivedAt, skew ? sentAt : undefined);
  }
  return { key, calls, raw: events };
}

/** One capture event into a Segment call. `sentAt`: the batch's send time when skew is corrected. */
export function posthogEvent(e: unknown, receivedAt: number, sentAt: string | number | undefined): SegmentCall | Refused {
  if (!isObject(e)) return new Refused('not_an_object', 'an event must be a JSON object', 'event', e);
  const name = e.event;
  if (typeof name !== 'string' || name === '') return new Refused('missing_field', 'event is required (a non-empty string)', 'event', e);
  let props: Json = isObject(e.properties) ? e.properties : {};
  const distinctId = str(e.distinct_id) ?? str(props.distinct_id) ?? str(e.$distinct_id);
  if (distinctId === undefined) return new Refused('missing_id', 'distinct_id is required', 'distinct_id', e);

  const call: SegmentCall = {};
  const uuid = str(e.uuid);
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
  if (set !== undefined || setOnce !== undefined) call.traits = setOnce === undefined ? set : set === undefined ? setOnce : { ...setOnce, ...set };
  if ('token' in props || '$set' in props || '$set_once' in props || 'api_key' in props) {
    const { token: _t, api_key: _k, $set: _s, $set_once: _o, ...rest } = props;
    props = rest;
  }

  const anonymous = props.$is_identified === false || (props.$device_id !== undefined && props.$device_id === distinctId);
  switch (name) {
    case '$identify':
      call.type = 'identify';
      call.userId = distinctId;
      if (str(props.$anon_distinct_id) !== undefined) call.anonymousId = props.$anon_distinct_id;
      break;
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
  call.properties = props;
  call.context = posthogContext(props);
  return call;
}

function posthogContext(p: Json): Json {
  const c: Json = {};
  if (typeof p.$lib === 'string') c.library = typeof p.$lib_version === 'string' ? { name: p.$lib, version: p.$lib_version } : { name: p.$lib };
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
